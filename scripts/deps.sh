#!/usr/bin/env bash
# Install what `make test` and `make run` need: Debian packages and a Python
# virtual environment. Idempotent: a stamp keyed by the package lists skips
# the work when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
stamp_dir=build/stamps
mkdir -p "$stamp_dir"

apt_list=$(grep -v '^\s*#' scripts/apt-packages.txt | awk 'NF {print $1}' | sort -u)
apt_key=$(printf '%s\n' "$apt_list" | sha256sum | cut -c1-16)
if [ ! -f "$stamp_dir/apt-$apt_key" ]; then
	missing=$(dpkg-query -W -f='${Package} ${Status}\n' $apt_list 2>/dev/null \
		| awk '$NF == "installed" {print $1}' | sort -u | comm -13 - <(printf '%s\n' "$apt_list"))
	if [ -n "$missing" ]; then
		echo "deps: installing Debian packages: $(echo $missing)"
		if [ "$(id -u)" -ne 0 ]; then
			echo "deps: need root for apt-get (run as root or install: $(echo $missing))" >&2
			exit 1
		fi
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q >/dev/null
		apt-get install -y -q --no-install-recommends $missing >/dev/null
	fi
	touch "$stamp_dir/apt-$apt_key"
fi

# The kernel source package at exactly the version recipes/linux-ndiv pins.
kver=$(sed -n 's/^LINUX_DEBIAN_VERSION = "\(.*\)"/\1/p' recipes/linux-ndiv/linux-ndiv.inc)
kpkg=$(sed -n 's/^LINUX_DEBIAN_PACKAGE = "\(.*\)"/\1/p' recipes/linux-ndiv/linux-ndiv.inc)
if [ -n "$kver" ] && [ "$(dpkg-query -W -f='${Version}' "$kpkg" 2>/dev/null)" != "$kver" ]; then
	echo "deps: installing $kpkg=$kver (the pinned kernel source)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends --allow-downgrades "$kpkg=$kver" >/dev/null
fi

# QEMU 10 from bookworm-backports (QEMU 7.2 corrupts CFI flash writes), and the
# armhf package lists the virtual board downloads busybox from.
case "$(dpkg-query -W -f='${Version}' qemu-system-arm 2>/dev/null)" in
1:1[0-9].*) ;;
*) scripts/apt-backports.sh qemu-system-arm ;;
esac
scripts/apt-armhf.sh >/dev/null

py_key=$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -x "$VENV/bin/python" ] || [ ! -f "$stamp_dir/pip-$py_key" ]; then
	echo "deps: preparing the Python environment in $VENV"
	python3 -m venv "$VENV"
	"$VENV/bin/pip" install -q --upgrade pip
	"$VENV/bin/pip" install -q -e '.[dev]'
	touch "$stamp_dir/pip-$py_key"
fi
