"""The last step of every flash: change U-Boot's boot environment, then ``saveenv``.

Only reached after the new image was written and read back intact. The network
variables the transfer changed are put back first, so ``saveenv`` stores exactly
the old environment plus the boot changes.
"""

from __future__ import annotations

from linerate.flash.errors import FlashError
from linerate.flash.progress import Progress
from linerate.flash.ubootcmd import UBootCommands


def commit(
    uboot: UBootCommands,
    changes: dict[str, str],
    restore: dict[str, str | None],
    progress: Progress,
    state_if_failed: str,
) -> dict[str, str]:
    """Apply ``restore`` then ``changes``, ``saveenv``, and read the result back."""
    progress.phase("boot environment")
    for name, old in restore.items():
        if name in changes:
            continue
        uboot.setenv(name, old or "")
    if not changes:
        progress.done("unchanged, nothing saved")
        return uboot.printenv()
    for name, value in changes.items():
        uboot.setenv(name, value)
    try:
        uboot.saveenv()
    except Exception as exc:
        raise FlashError(
            f"saveenv failed: {exc}",
            state=state_if_failed,
            resume="the new image is written and verified: rerun linerate flash (it rewrites "
            "the slot and saves again), or set the variables by hand in U-Boot and saveenv",
        ) from exc
    env = uboot.printenv()
    wrong = [n for n, v in changes.items() if env.get(n, "") != v]
    if wrong:
        raise FlashError(
            f"after saveenv, {', '.join(wrong)} do not hold the values set",
            state=state_if_failed,
            resume="check U-Boot's environment by hand (printenv) and rerun linerate flash",
        )
    progress.done(", ".join(f"{n}={v}" for n, v in changes.items() if n != "bootcmd"))
    return env
