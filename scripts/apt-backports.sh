#!/usr/bin/env bash
# Make QEMU come from bookworm-backports (QEMU 10), everything else from bookworm.
#
# Why: QEMU 7.2 (bookworm) corrupts CFI flash buffered writes over about 4 KiB and
# U-Boot's saveenv; the virtual board keeps its U-Boot environment and boot images
# on pflash, so it needs QEMU 10 from bookworm-backports.
#
# The suite is added with the *same mirror URI* the machine already uses for
# bookworm (read from its apt sources, never hard-coded), and pinned low: only
# QEMU's own packages (and what they strictly need at a newer version) come from
# backports. Idempotent: rerunning changes nothing and only runs `apt-get update`
# when the source or pin file changed. Pass package names to install them too:
#   scripts/apt-backports.sh qemu-system-arm
set -euo pipefail

list=/etc/apt/sources.list.d/linerate-backports.sources
pin=/etc/apt/preferences.d/linerate-backports

# The bookworm mirror URI: first deb822 stanza whose Suites holds "bookworm",
# else the first one-line "deb URI bookworm ..." entry.
find_uri() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && [ "$f" != "$list" ] || continue
		uri=$(awk '
			BEGIN { RS = ""; FS = "\n" }
			{
				u = ""; s = 0; t = 0
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); split($i, a, /[ \t]+/); u = a[1] }
					if ($i ~ /^Suites:/) { n = split($i, b, /[ \t]+/); for (j = 2; j <= n; j++) if (b[j] == "bookworm") s = 1 }
					if ($i ~ /^Types:/ && $i ~ /(^|[ \t])deb([ \t]|$)/) t = 1
				}
				if (u != "" && s && t) { print u; exit }
			}' "$f")
		if [ -n "$uri" ]; then
			echo "$uri"
			return
		fi
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		uri=$(awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
			if ($(i + 1) == "bookworm") { print $i; exit } }' "$f")
		if [ -n "$uri" ]; then
			echo "$uri"
			return
		fi
	done
}

if [ "$(id -u)" -ne 0 ]; then
	echo "apt-backports: need root to configure apt (run as root)" >&2
	exit 1
fi

uri=$(find_uri)
if [ -z "$uri" ]; then
	echo "apt-backports: no bookworm source found in /etc/apt/sources.list{,.d}:" \
		"check that this is Debian 12 with a configured mirror" >&2
	exit 1
fi

want_list="# Added by linerate scripts/apt-backports.sh (same mirror as bookworm).
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"
want_pin="# Added by linerate scripts/apt-backports.sh: nothing from backports unless asked,
# QEMU (the virtual board needs QEMU 10's working CFI flash emulation) from backports.
Package: *
Pin: release n=bookworm-backports
Pin-Priority: 100

Package: qemu-* src:qemu
Pin: release n=bookworm-backports
Pin-Priority: 990
"

changed=0
if [ "$(cat "$list" 2>/dev/null)" != "$(printf '%s' "$want_list")" ]; then
	printf '%s' "$want_list" >"$list"
	changed=1
fi
if [ "$(cat "$pin" 2>/dev/null)" != "$(printf '%s' "$want_pin")" ]; then
	printf '%s' "$want_pin" >"$pin"
	changed=1
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-q -o DPkg::Lock::Timeout=600)
if [ "$changed" = 1 ] || ! compgen -G '/var/lib/apt/lists/*_dists_bookworm-backports_*Release' >/dev/null; then
	echo "apt-backports: bookworm-backports from $uri (pinned: only QEMU)"
	# A mirror mid-sync may fail another index (e.g. the security pool): what
	# matters here is the backports list, checked below.
	apt-get "${apt_opts[@]}" update >/dev/null ||
		echo "apt-backports: apt-get update reported errors (above); checking the backports list"
fi
if ! compgen -G '/var/lib/apt/lists/*_dists_bookworm-backports_*Release' >/dev/null; then
	echo "apt-backports: no bookworm-backports package list after apt-get update:" \
		"check $list and the mirror $uri" >&2
	exit 1
fi

if [ "$#" -gt 0 ]; then
	# Install (or upgrade to the backports version) the named packages; the
	# dependencies QEMU needs at a newer version come along with -t.
	missing=()
	for p in "$@"; do
		# Only an installed package counts (a removed one keeps a version in dpkg).
		inst=$(dpkg-query -W -f='${Status} ${Version}\n' "$p" 2>/dev/null |
			awk '$3 == "installed" {print $4}' || true)
		cand=$(apt-cache policy "$p" | awk '/Candidate:/ {print $2}')
		[ "$inst" = "$cand" ] || missing+=("$p")
	done
	if [ "${#missing[@]}" -gt 0 ]; then
		echo "apt-backports: installing ${missing[*]}"
		apt-get "${apt_opts[@]}" install -y --no-install-recommends \
			"${missing[@]}" >/dev/null
	fi
fi
