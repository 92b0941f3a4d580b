"""Where the virtual board keeps its downloads and builds, keyed by their inputs."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from linerate.cache import cache_root


def vboard_dir(*parts: str) -> Path:
    path = cache_root().joinpath("vboard", *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


class InputKey:
    """A SHA-256 over named inputs: strings, bytes and file contents (with modes)."""

    def __init__(self, kind: str) -> None:
        self._h = hashlib.sha256()
        self.add("kind", kind)

    def add(self, name: str, value: str | bytes) -> InputKey:
        data = value.encode() if isinstance(value, str) else value
        self._h.update(f"{name}\0{len(data)}\0".encode())
        self._h.update(data)
        return self

    def add_file(self, name: str, path: Path) -> InputKey:
        self.add(name + ":mode", oct(path.stat().st_mode & 0o777))
        with path.open("rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        return self.add(name, digest)

    def add_files(self, items: Iterable[tuple[str, Path]]) -> InputKey:
        for name, path in items:
            self.add_file(name, path)
        return self

    def hexdigest(self, length: int = 16) -> str:
        return self._h.hexdigest()[:length]


#: Builds kept per kind (older ones are deleted: a pflash image is 64 MiB).
KEEP_PER_KIND = 4


def _prune_kind(kind_dir: Path, keep: int) -> None:
    builds = [p for p in kind_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    builds.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in builds[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def cached_file(kind: str, key: str, name: str, build: Callable[[Path], None]) -> tuple[Path, bool]:
    """Return ``(path, was_cached)`` of ``<cache>/vboard/<kind>/<key>/<name>``, building it
    with ``build(tmp_path)`` if missing (atomically: a crash leaves no half file)."""
    out_dir = vboard_dir(kind, key)
    out = out_dir / name
    if out.exists():
        os.utime(out_dir)  # most recently used: kept by the pruning below
        return out, True
    tmp = out_dir / f".{name}.tmp{os.getpid()}"
    try:
        build(tmp)
        tmp.replace(out)
        _prune_kind(out_dir.parent, KEEP_PER_KIND)
    finally:
        if tmp.exists():
            if tmp.is_dir():
                shutil.rmtree(tmp)
            else:
                tmp.unlink()
    return out, False
