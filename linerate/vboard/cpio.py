"""A small writer for the kernel's initramfs format (cpio "newc"), reproducible.

Written here rather than with GNU cpio so that the archive holds device nodes
(``/dev/console``) and root ownership without root privileges or mknod, and so
that the same inputs give the same bytes (fixed mtimes, sorted entries).
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from typing import BinaryIO


@dataclass(frozen=True)
class Entry:
    """One archive member. ``mode`` includes the file type bits."""

    name: str
    mode: int
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)


def directory(name: str, perm: int = 0o755) -> Entry:
    return Entry(name, stat.S_IFDIR | perm)


def regular(name: str, data: bytes, perm: int = 0o644) -> Entry:
    return Entry(name, stat.S_IFREG | perm, data)


def symlink(name: str, target: str) -> Entry:
    return Entry(name, stat.S_IFLNK | 0o777, target.encode())


def chardev(name: str, major: int, minor: int, perm: int = 0o600) -> Entry:
    return Entry(name, stat.S_IFCHR | perm, rdev=(major, minor))


def _pad(n: int) -> bytes:
    return b"\0" * ((4 - n % 4) % 4)


def _header(ino: int, entry: Entry, name: bytes, size: int) -> bytes:
    nlink = 2 if stat.S_ISDIR(entry.mode) else 1
    fields = [
        ino,
        entry.mode,
        0,  # uid
        0,  # gid
        nlink,
        0,  # mtime: fixed, for reproducible archives
        size,
        0,  # dev major
        0,  # dev minor
        entry.rdev[0],
        entry.rdev[1],
        len(name) + 1,
        0,  # check
    ]
    return b"070701" + b"".join(f"{v:08x}".encode() for v in fields)


def write(out: BinaryIO, entries: list[Entry]) -> None:
    """Write ``entries`` (parents before children: sorted by name) and the trailer."""
    ino = 1
    for entry in sorted(entries, key=lambda e: e.name):
        name = entry.name.lstrip("/").encode()
        head = _header(ino, entry, name, len(entry.data))
        out.write(head + name + b"\0")
        out.write(_pad(len(head) + len(name) + 1))
        out.write(entry.data)
        out.write(_pad(len(entry.data)))
        ino += 1
    trailer = b"TRAILER!!!"
    head = _header(0, Entry("", 0), trailer, 0)
    out.write(head + trailer + b"\0")
    out.write(_pad(len(head) + len(trailer) + 1))
