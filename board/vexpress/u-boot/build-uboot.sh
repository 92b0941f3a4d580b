#!/bin/bash
# build-uboot.sh SRC_DIR OUT_DIR [hush|nohush] [ram|nor]
#
# Builds U-Boot v2011.12 for ca9x4_ct_vxp (QEMU -M vexpress-a9) with Debian's
# arm-linux-gnueabihf-gcc. Nothing in SRC_DIR (a pristine v2011.12 tree, e.g.
# "git archive v2011.12 | tar -x -C SRC_DIR") is changed. The script copies it
# to OUT_DIR/src, applies patches/*.patch there with patch -p1 and builds
# out of tree into OUT_DIR/build (O=).
# Result: OUT_DIR/build/u-boot (ELF, for qemu -kernel) and u-boot.bin.
#
# Variants: hush (default) applies 0001 0002 0003. nohush applies 0001 0002
#           and keeps the stock simple parser.
#           ram (default): target ca9x4_ct_vxp, TEXT_BASE 0x60800000, started
#           with qemu -kernel OUT_DIR/build/u-boot.
#           nor: also applies 0004 and builds ca9x4_ct_vxp_nor (TEXT_BASE 0,
#           XIP). Write OUT_DIR/build/u-boot.bin at offset 0 of the first
#           pflash image and start QEMU without -kernel.
# Idempotent: patches that are already applied are skipped (checked with a
# reverse dry-run) and make runs again incrementally. If the variant of an
# existing OUT_DIR changes, OUT_DIR/src and OUT_DIR/build are rebuilt from
# scratch (a configure that went wrong needs "make distclean" anyway).
# Env: CROSS_COMPILE (default arm-linux-gnueabihf-), JOBS (default 2).
set -euo pipefail

usage() { echo "usage: $0 SRC_DIR OUT_DIR [hush|nohush] [ram|nor]" >&2; exit 2; }
[ $# -ge 2 ] && [ $# -le 4 ] || usage
SRC=$(cd "$1" && pwd)
mkdir -p "$2"
OUT=$(cd "$2" && pwd)
VARIANT=${3:-hush}
case "$VARIANT" in hush|nohush) ;; *) usage ;; esac
BOOT=${4:-ram}
case "$BOOT" in ram|nor) ;; *) usage ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
PATCHES="$HERE/patches"
CROSS_COMPILE=${CROSS_COMPILE:-arm-linux-gnueabihf-}
JOBS=${JOBS:-2}
BOARD=ca9x4_ct_vxp
TARGET=$BOARD
[ "$BOOT" = nor ] && TARGET=${BOARD}_nor

[ -f "$SRC/include/configs/$BOARD.h" ] || { echo "not a U-Boot tree: $SRC" >&2; exit 1; }
grep -q '^VERSION = 2011$' "$SRC/Makefile" && grep -q '^PATCHLEVEL = 12$' "$SRC/Makefile" ||
	echo "warning: $SRC does not look like v2011.12" >&2

series="0001-armv7-build-with-gcc12.patch 0002-vexpress-rig-options.patch"
series="$series 0005-vexpress-redundant-environment.patch"
[ "$VARIANT" = hush ] && series="$series 0003-vexpress-hush-parser.patch"
[ "$BOOT" = nor ] && series="$series 0004-vexpress-nor-boot-variant.patch"

# Start over when the variant changes.
if [ -f "$OUT/.variant" ] && [ "$(cat "$OUT/.variant")" != "$VARIANT-$BOOT" ]; then
	rm -rf "$OUT/src" "$OUT/build" "$OUT/.variant"
fi
if [ ! -d "$OUT/src" ]; then
	mkdir -p "$OUT/src"
	(cd "$SRC" && tar --exclude=.git -cf - .) | (cd "$OUT/src" && tar -xf -)
fi
echo "$VARIANT-$BOOT" > "$OUT/.variant"

cd "$OUT/src"
for p in $series; do
	if patch -p1 -R -s -f --dry-run < "$PATCHES/$p" >/dev/null 2>&1; then
		echo "already applied: $p"
	else
		patch -p1 -s -f < "$PATCHES/$p"
		echo "applied: $p"
	fi
done

# compiler-gcc.h includes compiler-gcc<major>.h. 0001 provides gcc12, and
# any other gcc major gets the same one-line wrapper.
GCC_MAJOR=$("${CROSS_COMPILE}gcc" -dumpversion | cut -d. -f1)
if [ ! -f "include/linux/compiler-gcc$GCC_MAJOR.h" ]; then
	printf '/* linerate: gcc %s treated like gcc 4 */\n#include <linux/compiler-gcc4.h>\n' \
		"$GCC_MAJOR" > "include/linux/compiler-gcc$GCC_MAJOR.h"
fi

mkdir -p "$OUT/build"
if [ ! -f "$OUT/build/include/config.mk" ]; then
	make -s O="$OUT/build" CROSS_COMPILE="$CROSS_COMPILE" distclean >/dev/null 2>&1 || true
	make O="$OUT/build" CROSS_COMPILE="$CROSS_COMPILE" ${TARGET}_config
fi
start=$(date +%s)
make O="$OUT/build" CROSS_COMPILE="$CROSS_COMPILE" -j"$JOBS" all > "$OUT/build.log" 2>&1 ||
	{ tail -30 "$OUT/build.log" >&2; echo "build failed, see $OUT/build.log" >&2; exit 1; }
echo "built $VARIANT/$BOOT in $(( $(date +%s) - start )) s: $OUT/build/u-boot"
