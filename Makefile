# linerate: the README's two commands are `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
# Long-lived build caches (kernel builds, ccache, board images, the unpacked
# third-party layers) are in $LINERATE_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/linerate:
# linerate/cache.py is the one place that decides it, for make, the CLI and the tests.
# Tiers that run here and in CI; `board` runs the board suite on the virtual
# board (on real hardware: pytest tests/board --board NAME --port DEV).
TIERS ?= unit or host or layer or vboard or board

.PHONY: all deps run test lint check-layer slhttpd kernel bench demo fuzz clean

all: slhttpd

deps:
	@./scripts/deps.sh

slhttpd:
	$(MAKE) -C slhttpd

lint: deps
	$(VENV)/bin/ruff check linerate tests slhttpd bench
	$(VENV)/bin/ruff format --check linerate tests slhttpd bench
	$(VENV)/bin/mypy linerate

# What the console's transport carries, for the socket:// pass: the survey, U-Boot,
# NOR flashing (TFTP and the YMODEM fallback through the console itself), a boot,
# SLHTTPD, reboots. The SSD, UBI and fw_printenv tests drive the same console again.
SOCKET_PASS ?= the_survey or uboot_prompt or environment_is_sane or flash_map or flash_nor \
	or interrupted or ymodem or without_hush or boots_to_a_shell or every_test_port or reboots
test: deps slhttpd lint kernel
	# Five reboots in a row here (a real board's run: ten, the default).
	$(PYTEST) -m "$(TIERS)" tests --reboots 5
ifneq ($(findstring board,$(TIERS)),)
	# The board suite once more, its console through ser2net (socket://), as a lab
	# serves a real board's.
	$(PYTEST) tests/board --vboard-console socket --reboots 2 -k "$(SOCKET_PASS)" \
		--junitxml=artifacts/junit-board-socket.xml
	# And on the vendor-era board (QEMU vexpress-a9, U-Boot 2011.12 without hush, ATAG
	# boot): board/vexpress/NOTES.md. Skips with the reason when U-Boot's source is missing.
	# One reboot (20 s each there): make test stays within 40 min on a fresh machine.
	$(PYTEST) tests/board --board vexpress --reboots 1 --junitxml=artifacts/junit-board-vexpress.xml
endif

# The Yocto Project Compatible check: yocto-check-layer on the BSP layer (the
# root) with both machines and on the distro layer (distro/), offline, with the
# pinned oe-core and bitbake of ../shared/layers/ (skips, saying why, when they
# are absent). About 50 minutes on 2 cores, so `make test` runs only its fast
# parts (tests/layer/test_check_layer.py). Log: artifacts/check-layer.log.
check-layer: deps
	$(PY) -m linerate.layer.check

# The appliance on the virtual board: builds the ndiv kernel, initramfs and
# NOR image when missing, boots through U-Boot, serves 127.0.0.1:8080 (slirp,
# the management port). As root (needed by deps anyway) its test port is also
# cabled to a tap in a network namespace (--tap): Linux clients straight to the
# guest's driver. RUN_TAP= (empty) skips that; not root: slirp only.
RUN_TAP ?= $(if $(filter 0,$(shell id -u)),--tap)
run: deps slhttpd
	$(PY) -m linerate vboard $(RUN_TAP)

# SLHTTPD's userspace frontend in network namespaces (no kernel build).
demo: deps slhttpd
	$(PY) -m linerate serve --demo

# The virt kernel + slhttpd.ko first: the board and vboard tiers boot it.
kernel: deps
	$(PY) -m linerate kernel --target virt

bench: deps slhttpd
	$(PY) bench/run_bench.py

fuzz: deps
	$(MAKE) -C slhttpd fuzz

clean:
	$(MAKE) -C slhttpd clean
	rm -rf build artifacts
