#!/usr/bin/env bash
# Install what `make test` and `make run` need: Debian packages and a Python
# virtual environment. Idempotent: a stamp keyed by the package lists skips
# the work when nothing changed.
#
#   scripts/deps.sh                 every step, in order
#   scripts/deps.sh apt python      only the named steps
#
# Steps: apt (scripts/apt-packages.txt), kernel-source (the pinned
# linux-source), qemu (QEMU 10 from bookworm-backports), armhf (armhf package
# lists for the virtual board's downloads), python (the venv). A failing step
# names itself and says what to check; nothing after it runs.
set -uo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
STAMPS=${DEPS_STAMPS:-build/stamps}
APT_LIST=${DEPS_APT_LIST:-scripts/apt-packages.txt}
export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-q -o DPkg::Lock::Timeout=600)

say() { echo "deps: $*"; }
die() {
	echo "deps: $*" >&2
	exit 1
}

need_root() {
	[ "$(id -u)" -eq 0 ] || die "step '$1' needs root for apt-get: run as root, or install by hand: $2"
}

# The version of an installed package, else nothing (a removed package whose
# configuration files remain still has a version in dpkg's database).
installed_version() {
	dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null | awk '$3 == "installed" {print $4}'
}

# The packages of a list that are not installed. dpkg-query exits 1 when any
# name is unknown to dpkg (never installed): that is the normal case on a fresh
# machine, so only its output counts.
missing_packages() {
	local installed
	installed=$(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null |
		awk '$NF == "installed" {print $1}' | sort -u)
	comm -13 <(printf '%s\n' "$installed") <(printf '%s\n' "$@" | sort -u)
}

step_apt() {
	local list key missing
	list=$(grep -v '^\s*#' "$APT_LIST" | awk 'NF {print $1}' | sort -u)
	key=$(printf '%s\n' "$list" | sha256sum | cut -c1-16)
	[ -f "$STAMPS/apt-$key" ] && return 0
	# shellcheck disable=SC2086 # one package name per word
	missing=$(missing_packages $list)
	if [ -n "$missing" ]; then
		say "installing Debian packages: $(echo $missing)"
		need_root apt "apt-get install $(echo $missing)"
		# A mirror in the middle of a sync fails one index (seen: the security pool's
		# armhf list) while the others are fine: go on with the lists apt has, and
		# say so if the install then fails.
		local update_note=""
		if ! apt-get "${APT_OPTS[@]}" update >/dev/null; then
			update_note=" (apt-get update reported errors too: check /etc/apt/sources.list* and the mirror)"
			say "apt-get update reported errors (above): trying the install with the lists apt has"
		fi
		# shellcheck disable=SC2086
		apt-get "${APT_OPTS[@]}" install -y --no-install-recommends $missing ||
			die "step 'apt': apt-get install failed (its output is above)$update_note;" \
				"install by hand: apt-get install $(echo $missing)"
		# shellcheck disable=SC2086
		missing=$(missing_packages $missing)
		[ -z "$missing" ] ||
			die "step 'apt': still not installed after apt-get install: $(echo $missing)" \
				"(check 'apt-cache policy NAME')"
	fi
	mkdir -p "$STAMPS" && touch "$STAMPS/apt-$key"
}

# The kernel source package at exactly the version recipes/linux-ndiv pins.
step_kernel_source() {
	local inc=recipes/linux-ndiv/linux-ndiv.inc kver kpkg
	kver=$(sed -n 's/^LINUX_DEBIAN_VERSION = "\(.*\)"/\1/p' "$inc")
	kpkg=$(sed -n 's/^LINUX_DEBIAN_PACKAGE = "\(.*\)"/\1/p' "$inc")
	[ -n "$kver" ] && [ -n "$kpkg" ] || die "step 'kernel-source': no LINUX_DEBIAN_VERSION/PACKAGE in $inc"
	[ "$(installed_version "$kpkg")" = "$kver" ] && return 0
	say "installing $kpkg=$kver (the pinned kernel source)"
	need_root kernel-source "apt-get install $kpkg=$kver"
	apt-get "${APT_OPTS[@]}" install -y --no-install-recommends --allow-downgrades "$kpkg=$kver" ||
		die "step 'kernel-source': cannot install $kpkg=$kver: 'apt-cache policy $kpkg' lists" \
			"the versions the mirror has; the pin is in $inc"
}

# QEMU 10 from bookworm-backports: qemu-system-arm (QEMU 7.2 corrupts CFI flash
# writes) and qemu-user (make bench counts ARMv7 instructions with qemu-arm's
# -one-insn-per-tb, which QEMU 7.2 does not have).
step_qemu() {
	local p need=0
	for p in qemu-system-arm qemu-user; do
		case "$(installed_version "$p")" in
		1:1[0-9].*) ;;
		*) need=1 ;;
		esac
	done
	[ "$need" = 1 ] || return 0
	scripts/apt-backports.sh qemu-system-arm qemu-user ||
		die "step 'qemu': QEMU 10 from bookworm-backports did not install (see above)"
}

# The armhf package lists the virtual board downloads busybox from.
step_armhf() {
	scripts/apt-armhf.sh >/dev/null || die "step 'armhf': the armhf package lists (see above)"
}

step_python() {
	local key
	key=$(sha256sum pyproject.toml | cut -c1-16)
	[ -x "$VENV/bin/python" ] && [ -f "$STAMPS/pip-$key" ] && return 0
	say "preparing the Python environment in $VENV"
	python3 -m venv "$VENV" ||
		die "step 'python': python3 -m venv failed: install python3-venv (Debian) or a Python >= 3.11"
	"$VENV/bin/pip" install -q --upgrade pip ||
		die "step 'python': pip cannot reach its index: check the network or PIP_INDEX_URL"
	"$VENV/bin/pip" install -q -e '.[dev]' ||
		die "step 'python': pip install -e '.[dev]' failed (see above): check pyproject.toml"
	mkdir -p "$STAMPS" && touch "$STAMPS/pip-$key"
}

steps=("$@")
[ "${#steps[@]}" -gt 0 ] || steps=(apt kernel-source qemu armhf python)
for s in "${steps[@]}"; do
	case "$s" in
	apt | kernel-source | qemu | armhf | python) "step_${s//-/_}" ;;
	*) die "unknown step '$s' (steps: apt kernel-source qemu armhf python)" ;;
	esac
done
