"""Errors the CLI reports as one clear line (no traceback)."""


class LinerateError(Exception):
    """An error whose message tells the user what to check (exit status 1)."""


class UsageError(LinerateError):
    """A command-line value that cannot work (exit status 2, as argparse's own)."""
