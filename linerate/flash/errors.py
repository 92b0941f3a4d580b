"""Flasher errors: what failed, what state the board is in, how to resume."""

from __future__ import annotations

from linerate.errors import LinerateError


class FlashError(LinerateError):
    """A flash step failed. ``state`` says what the board boots now, ``resume`` what to do."""

    def __init__(self, message: str, state: str = "", resume: str = "") -> None:
        self.state = state
        self.resume = resume
        parts = [message]
        if state:
            parts.append(f"board state: {state}")
        if resume:
            parts.append(f"to resume: {resume}")
        super().__init__("\n".join(parts))


class ReadOnlyRegionError(FlashError):
    """A write would touch a read-only region (the bootloader): refused, nothing done."""
