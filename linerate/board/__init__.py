"""Board profiles (``board/<name>/board.yml``): loading, validation, the typed model."""

from linerate.board.profile import (
    Profile,
    ProfileError,
    available,
    load_profile,
)

__all__ = ["Profile", "ProfileError", "available", "load_profile"]
