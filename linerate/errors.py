"""Errors the CLI reports as one clear line (no traceback)."""


class LinerateError(Exception):
    """An error whose message tells the user what to check."""
