"""Boards: profiles (``board/<name>/board.yml``: model facts, loaded and validated), the
targets (a real board on a serial port, or a virtual one) and the one strategy that
brings any of them to U-Boot or a shell (states as an Enum)."""

from linerate.board.profile import (
    Profile,
    ProfileError,
    available,
    load_profile,
)

__all__ = ["Profile", "ProfileError", "available", "load_profile"]
