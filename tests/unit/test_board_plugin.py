"""The board tests' pytest plugin: options, transcript per test, the transcript's end
in a failure report (run in a pytester sandbox, no board needed)."""

from __future__ import annotations

pytest_plugins = ["pytester"]


def test_a_failing_test_shows_its_console_transcript(pytester, tmp_path, monkeypatch):
    monkeypatch.setenv("LINERATE_ARTIFACTS", str(tmp_path / "artifacts"))
    pytester.makepyfile(
        test_sample="""
        def test_fails(console_log):
            console_log.write_text("U-Boot 2023.01\\n=> crc32 0x40400000 0x10\\nbad CRC here\\n")
            assert False, "deliberate"

        def test_passes(console_log):
            console_log.write_text("fine\\n")

        def test_options(pytestconfig, board_profile):
            assert pytestconfig.getoption("--board") == "mirabox"
            assert pytestconfig.getoption("--port") is None
            assert board_profile.kas_machine == "mirabox"
        """
    )
    junit = tmp_path / "junit.xml"
    result = pytester.runpytest_inprocess(
        "-p", "linerate.pytest_plugin", "--board", "mirabox", f"--junitxml={junit}"
    )
    result.assert_outcomes(passed=2, failed=1)
    xml = junit.read_text()
    assert "bad CRC here" in xml and "console transcript" in xml
    result.stdout.fnmatch_lines(["*console transcript (*test_fails*console.log, last 3 lines)*"])
    result.stdout.fnmatch_lines(["bad CRC here"])
    assert "fine" not in result.stdout.str()
    assert (tmp_path / "artifacts" / "test_fails" / "console.log").is_file()
    assert (tmp_path / "artifacts" / "test_passes" / "console.log").read_text() == "fine\n"


def test_a_real_board_without_port_is_skipped_with_the_reason(pytester, tmp_path, monkeypatch):
    monkeypatch.setenv("LINERATE_ARTIFACTS", str(tmp_path / "artifacts"))
    pytester.makepyfile(test_sample="def test_needs_board(board):\n    pass\n")
    result = pytester.runpytest_inprocess(
        "-p", "linerate.pytest_plugin", "--board", "openblocks-ax3", "-rs"
    )
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*openblocks-ax3 is real hardware: run with --port DEV*"])


def test_an_unknown_board_is_a_usage_error(pytester):
    pytester.makepyfile(test_sample="def test_x(board_profile):\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "linerate.pytest_plugin", "--board", "nope")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*no board profile*nope*available boards*"])


def test_options_work_from_any_path_through_the_entry_point(pytester):
    """The plugin is an installed pytest11 entry point: no -p, no conftest needed."""
    pytester.makepyfile(
        test_sample="""
        def test_options(pytestconfig):
            assert pytestconfig.getoption("--board") == "mirabox"
        """
    )
    result = pytester.runpytest_subprocess("--board", "mirabox", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_tests_without_the_board_get_no_transcript(pytester, tmp_path, monkeypatch):
    monkeypatch.setenv("LINERATE_ARTIFACTS", str(tmp_path / "artifacts"))
    pytester.makepyfile(test_sample="def test_plain():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "linerate.pytest_plugin")
    result.assert_outcomes(passed=1)
    assert not (tmp_path / "artifacts").exists()
