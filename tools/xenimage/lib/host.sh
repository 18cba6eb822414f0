# host.sh — helpers shared by build.sh and run.sh on the build host (sourced, not run).
# shellcheck shell=bash
#
# Everything here runs on the host (Debian 12), never inside the image. Functions are
# prefixed xi_ ("xen image") so they cannot clash with a caller's names.

# XI_T0 is the wall-clock start of the calling script; progress lines show the time since.
XI_T0=${XI_T0:-$EPOCHREALTIME}

# xi_elapsed prints seconds since XI_T0 with one decimal.
xi_elapsed() {
	awk -v a="$XI_T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

# xi_log prints a progress line on stderr, so that stdout stays for results.
xi_log() {
	printf '[%6ss] %s\n' "$(xi_elapsed)" "$*" >&2
}

xi_die() {
	printf '[%6ss] error: %s\n' "$(xi_elapsed)" "$*" >&2
	exit 1
}

# xi_repo_root prints the top of the repository that holds these scripts.
xi_repo_root() {
	(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
}

# xi_cache_root prints the per-user cache folder for images (outside the repository).
xi_cache_root() {
	printf '%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}/tamaxen/xen-image"
}

# xi_apt_updated runs `apt-get update` at most once per script run.
xi_apt_updated=
xi_apt_update() {
	[ -n "$xi_apt_updated" ] && return 0
	[ "$(id -u)" = 0 ] || xi_die "need root to install packages (apt-get)"
	xi_log "apt-get update"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || xi_die "apt-get update failed"
	xi_apt_updated=1
}

# xi_need_pkgs PKG... installs the Debian packages that are not installed yet.
xi_need_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	xi_apt_update
	xi_log "installing host packages: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >&2 || xi_die "apt-get install ${missing[*]} failed"
}

# xi_apt_mirror prints the Debian archive URL that this machine's apt uses for the
# main archive (not the security one), from sources.list or deb822 .sources files.
xi_apt_mirror() {
	local f url
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		url=$(awk '$1 == "deb" {
				i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
				if ($(i) !~ /security/ && $(i + 1) !~ /security|updates|backports/) { print $(i); exit }
			}' "$f")
		[ -n "$url" ] && { printf '%s\n' "$url"; return 0; }
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		# deb822: stanzas separated by blank lines; take the first URIs of a stanza whose
		# Types include deb and whose Suites are not only the security suite.
		url=$(awk 'BEGIN { RS = ""; FS = "\n" }
			{
				uri = ""; types = ""; suites = ""
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^URIs:/)   { uri = $i;    sub(/^URIs:[ \t]*/, "", uri); sub(/[ \t].*/, "", uri) }
					if ($i ~ /^Types:/)  { types = $i }
					if ($i ~ /^Suites:/) { suites = $i }
				}
				if (uri != "" && types ~ /(^|[ \t])deb([ \t]|$)/ && uri !~ /security/ && suites !~ /^Suites:[ \t]*[^ \t]*-security[ \t]*$/) { print uri; exit }
			}' "$f")
		[ -n "$url" ] && { printf '%s\n' "$url"; return 0; }
	done
	return 1
}

# xi_suite_apt SUITE MIRROR DIR sets XI_APT to the apt-get/apt-cache options of a private apt
# state in DIR that sees only Debian SUITE (main, its updates and its security archive) from
# MIRROR, and refreshes its package lists. The image's packages then come from the suite of
# its recipe, whatever release the build host runs; the host's own apt state is not touched.
# Debian's keyring (debian-archive-keyring) must know the suite's signing keys.
XI_APT=()
xi_suite_apt() {
	local suite=$1 mirror=${2%/} dir=$3
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/parts" "$dir/prefs"
	printf '%s\n' "deb $mirror $suite main" "deb $mirror $suite-updates main" \
		"deb $mirror-security $suite-security main" >"$dir/sources.list"
	: >"$dir/status"
	XI_APT=(-o "Dir::Etc::SourceList=$dir/sources.list" -o "Dir::Etc::SourceParts=$dir/parts"
		-o "Dir::Etc::Preferences=$dir/prefs/none" -o "Dir::Etc::PreferencesParts=$dir/prefs"
		-o "Dir::State::Lists=$dir/lists" -o "Dir::State::status=$dir/status"
		-o "Dir::Cache=$dir/cache" -o APT::Sandbox::User=root)
	xi_log "apt-get update ($suite from $mirror)"
	apt-get "${XI_APT[@]}" update -qq >&2 || xi_die "apt-get update of $suite failed"
}

# xi_hash_files DIR FILE... prints a short sha256 over the names and contents of the
# files (relative to DIR), in the given order.
xi_hash_files() {
	local dir=$1 f
	shift
	for f in "$@"; do
		printf '%s\0' "$f"
		cat "$dir/$f"
		printf '\0'
	done | sha256sum | cut -c1-16
}
