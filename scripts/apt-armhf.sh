#!/usr/bin/env bash
# Let apt download Debian armhf packages (never install them): the virtual board
# takes busybox-static (its initramfs user space) and, until the project's kernel
# is built, a stand-in armmp kernel from Debian's armhf archive with
# `apt-get download`. Idempotent: adds the architecture and runs apt-get update
# only when the armhf package lists are missing.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "apt-armhf: need root to add the armhf architecture (run as root)" >&2
	exit 1
fi
if ! dpkg --print-foreign-architectures | grep -qx armhf; then
	echo "apt-armhf: adding the armhf architecture (downloads only)"
	dpkg --add-architecture armhf
fi
if ! compgen -G '/var/lib/apt/lists/*_dists_bookworm_main_binary-armhf_Packages*' >/dev/null; then
	echo "apt-armhf: apt-get update for armhf"
	# A mirror mid-sync may fail one index (e.g. the security pool): the main
	# bookworm lists are what the virtual board needs, checked below.
	apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null || true
fi
if ! compgen -G '/var/lib/apt/lists/*_dists_bookworm_main_binary-armhf_Packages*' >/dev/null; then
	echo "apt-armhf: no bookworm armhf package list after apt-get update: check the mirror" >&2
	exit 1
fi
