# common.sh — helpers shared by the phases of the real-Xen stress payload (sourced by test.sh).
# shellcheck shell=bash
#
# Expects lib.sh's helpers and, from test.sh: HTTPD (domain name), HTTPD_IP, HTTPD_LOG (its
# console log), URL (http://$HTTPD_IP).

# st_secs T0 [T1=now] prints T1 - T0 in seconds with one decimal ($EPOCHREALTIME values).
st_secs() {
	awk -v a="$1" -v b="${2:-$EPOCHREALTIME}" 'BEGIN { printf "%.1f", b - a }'
}

# st_int VALUE succeeds when VALUE is a whole number (a figure read, not an empty string or
# an error message).
st_int() {
	[[ $1 =~ ^[0-9]+$ ]]
}

# st_count LOG ERE prints how many lines of LOG match ERE: 0 for a log not written yet, so
# that a comparison with it waits rather than breaks.
st_count() {
	local n
	n=$(grep -cE -- "$2" "$1" 2>/dev/null)
	echo "${n:-0}"
}

# st_wait_more LOG ERE N [TIMEOUT=60] waits until more than N lines of LOG match ERE.
st_wait_more() {
	local log=$1 ere=$2 n=$3 end=$((SECONDS + ${4:-60}))
	while [ "$(st_count "$log" "$ere")" -le "$n" ]; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}

# st_devid NAME prints the device id of the domain's (first) vif; fails if it has none.
st_devid() {
	xl network-list "$1" 2>/dev/null | awk 'NR > 1 && $1 ~ /^[0-9]+$/ { print $1; found = 1; exit } END { exit !found }'
}

# st_paced RATE copies stdin to stdout at about RATE bytes/s, 256 KiB at a time, sleeping
# until each step is due (dom0 under TCG takes a good part of a second for the processes of
# one step): a reader that holds a download back through its TCP window. curl's --limit-rate
# cannot be relied on for this: it averages over seconds, and a few MiB from the guest are
# often through before it engages (an 8 MiB download "at 256k" took 1.9 s in dom0).
st_paced() {
	local rate=$1 step=$((256 << 10)) n=0 t0 now due log
	t0=${EPOCHREALTIME//[!0-9]/}
	while log=$(dd bs=$step count=1 iflag=fullblock 2>&1 >&3) && [[ $log != "0+0 records in"* ]]; do
		n=$((n + step))
		due=$((t0 + n * 1000000 / rate))
		now=${EPOCHREALTIME//[!0-9]/}
		[ "$due" -gt "$now" ] && sleep "$(((due - now) / 1000000)).$(printf '%06d' $(((due - now) % 1000000)))"
	done 3>&1
}

# st_download N [MAX_TIME=60] [RATE] fetches N bytes of the pattern stream from the guest
# (read at about RATE bytes/s if given, by st_paced) and checks length and SHA-256; prints
# "ok SECONDS" or why not. Expected sums are cached per size.
# Call st_want N first in the main shell: st_download usually runs in $(...), which would
# forget what it caches.
declare -A ST_WANT
st_want() {
	[ -n "${ST_WANT[$1]}" ] || ST_WANT[$1]=$(xenpeer pattern -bytes "$1" | sha256sum | cut -d' ' -f1)
}
st_download() {
	local n=$1 max=${2:-60} rate=${3:-} t0 got rc meta size
	meta=$(mktemp /tmp/st-download.XXXXXX)
	st_want "$n"
	t0=$EPOCHREALTIME
	got=$(
		set -o pipefail
		curl -sS --fail --max-time "$max" -w '%{stderr}%{size_download}\n' "$URL/download?bytes=$n" 2>"$meta" |
			if [ -n "$rate" ]; then st_paced "$rate"; else cat; fi | sha256sum | cut -d' ' -f1
	)
	rc=$?
	size=$(tail -n 1 "$meta")
	if [ $rc -ne 0 ]; then
		echo "curl failed (status $rc: $(head -n 1 "$meta")) after $(st_secs "$t0") s"
		rm -f "$meta"
		return 1
	fi
	rm -f "$meta"
	if [ "$size" != "$n" ] || [ "$got" != "${ST_WANT[$n]}" ]; then
		echo "CORRUPT: $size bytes with SHA-256 $got, want $n bytes with ${ST_WANT[$n]}"
		return 2
	fi
	echo "ok $(st_secs "$t0")"
}

# pct BEFORE AFTER prints the growth from BEFORE to AFTER in percent, signed.
pct() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f %%", a ? 100 * (b - a) / a : 0 }'
}

# st_ping ADDR [COUNT=1] pings once (or COUNT times) with a 5 s wait; prints busybox's summary.
st_ping() {
	local out
	if out=$(busybox ping -c "${2:-1}" -W 5 "$1" 2>&1); then
		tail -n 1 <<<"$out"
	else
		echo "no answer: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
		return 1
	fi
}

# st_metric TEXT NAME prints the sum of the samples of metric NAME in Prometheus TEXT.
st_metric() {
	awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $NF; found = 1 } END { if (found) printf "%d", s }' <<<"$1"
}

# st_snapshot LABEL [QUIET=5] waits QUIET seconds with no traffic (connections closed, their
# goroutines gone), then reads /metrics three times, 2 s apart, and sets ST_GRANTS,
# ST_GOROUTINES, ST_HEAP, ST_HEAP_ALLOC to the smallest value of each (a transient goroutine or
# an allocation of the request itself should not count). A reading counts only if it has all
# four figures. Returns 1, with ST_WHY saying why, when no reading did.
st_snapshot() {
	local label=$1 quiet=${2:-5} i m g r h a why=''
	ST_GRANTS='' ST_GOROUTINES='' ST_HEAP='' ST_HEAP_ALLOC='' ST_WHY=''
	sleep "$quiet"
	for i in 1 2 3; do
		[ $i -gt 1 ] && sleep 2
		if ! m=$(curl -sS --fail --max-time 20 "$URL/metrics" 2>&1); then
			why="/metrics: $(tail -n 1 <<<"$m")"
			xt_info "$label: reading $i: $why"
			continue
		fi
		g=$(st_metric "$m" tamaxen_gnttab_refs_in_use)
		r=$(st_metric "$m" go_goroutines)
		h=$(st_metric "$m" go_memstats_heap_inuse_bytes)
		a=$(st_metric "$m" go_memstats_heap_alloc_bytes)
		if ! st_int "$g" || ! st_int "$r" || ! st_int "$h" || ! st_int "$a"; then
			why="/metrics lacks a figure: grants '$g', goroutines '$r', heap in use '$h', heap objects '$a'"
			xt_info "$label: reading $i: $why"
			continue
		fi
		[ -z "$ST_GRANTS" ] || [ "$g" -lt "$ST_GRANTS" ] && ST_GRANTS=$g
		[ -z "$ST_GOROUTINES" ] || [ "$r" -lt "$ST_GOROUTINES" ] && ST_GOROUTINES=$r
		[ -z "$ST_HEAP" ] || [ "$h" -lt "$ST_HEAP" ] && ST_HEAP=$h
		[ -z "$ST_HEAP_ALLOC" ] || [ "$a" -lt "$ST_HEAP_ALLOC" ] && ST_HEAP_ALLOC=$a
	done
	if [ -z "$ST_GRANTS" ]; then
		ST_WHY="none of 3 readings of /metrics worked (last: $why)"
		xt_info "$label: $ST_WHY"
		return 1
	fi
	xt_info "$label: grants in use $ST_GRANTS, goroutines $ST_GOROUTINES, heap in use $((ST_HEAP >> 10)) KiB (objects $((ST_HEAP_ALLOC >> 10)) KiB)"
}

# st_heap_series LOG FROM TO prints the "heap N KiB" figures of the stats lines numbered FROM
# to TO (1-based, counting only stats lines) of a console log, one a line.
st_heap_series() {
	grep -a '^httpd: stats ' "$1" | sed -n "$2,$3p" | sed -n 's/.* heap \([0-9]*\) KiB.*/\1/p'
}

# st_last_stats LOG prints the last stats line of a console log, without the carriage return.
st_last_stats() {
	grep -a ': stats ' "$1" | tail -n 1 | tr -d '\r'
}

# st_violations LINE prints the violations figure of a stats line; fails, printing nothing,
# when the line has none.
st_violations() {
	sed -n 's/.* violations \([0-9][0-9]*\)\( .*\)\{0,1\}$/\1/p' <<<"$1" | grep .
}

# st_check_violations CHECK LOG N passes CHECK when the first stats line LOG gets after its
# Nth (a fresh one: the guests print one every 5 s) says "violations 0". It fails CHECK when
# no new stats line comes within 15 s, when the line has no violations figure, or when the
# figure is not 0.
st_check_violations() {
	local check=$1 log=$2 n=$3 line v
	if ! st_wait_more "$log" ': stats ' "$n" 15; then
		xt_fail "$check" "no new stats line from ${log##*/} within 15 s (last: '$(st_last_stats "$log")')"
		return
	fi
	line=$(st_last_stats "$log")
	if ! v=$(st_violations "$line"); then
		xt_fail "$check" "no violations figure in ${log##*/}'s stats line: $line"
	elif [ "$v" != 0 ]; then
		xt_fail "$check" "${log##*/}: $line"
	else
		xt_pass "$check (${log##*/}: violations 0)"
	fi
}

# st_diagnose NAME LOG LABEL records, as info lines, the state of a guest that stopped
# answering: whether its vCPU runs (CPU time over 5 s, and where it is: xenctx three times),
# the xenbus states of its vifs, netback's view of the rings (debugfs) and the interface
# counters in dom0, and the last console lines. The symbols of a stripped ELF's addresses:
# `go tool addr2line` on the same build without -s -w (its text is laid out the same).
st_diagnose() {
	local name=$1 log=$2 label=$3 domid c1 c2 i f
	xt_info "$label: recording the state of $name"
	if ! domid=$(timeout 30 xl domid "$name" 2>&1); then
		xt_info "$label: $name is gone ($(xt_shutdown_reason "$name")): $domid"
		return
	fi
	c1=$(timeout 30 xl list "$name" 2>&1 | awk 'NR == 2 { print $6 }')
	sleep 5
	c2=$(timeout 30 xl list "$name" 2>&1 | awk 'NR == 2 { print $6 }')
	xt_info "$label: xl list: $(timeout 30 xl list "$name" 2>&1 | awk 'NR == 2' | tr -s ' '); CPU time $c1 s -> $c2 s over 5 s"
	timeout 30 xl vcpu-list "$name" 2>&1 | sed "s/^/xen-test: info $label: vcpu-list: /"
	# xenctx pauses the domain while it reads; it must not be killed in between.
	for i in 1 2 3; do
		timeout -s INT 30 xenctx -a -S "$domid" 0 2>&1 | tr -s ' \t' ' ' | tr '\n' '|' |
			sed "s/^/xen-test: info $label: xenctx $i: /; s/|$/\n/"
		sleep 1
	done
	timeout 30 xenstore-ls -f "/local/domain/$domid/device/vif" 2>&1 | grep -E '/state |ring-ref|event-channel|/queue-' |
		tr '\n' ' ' | sed "s/^/xen-test: info $label: frontend: /; s/ $/\n/"
	timeout 30 xenstore-ls -f "/local/domain/0/backend/vif/$domid" 2>&1 | grep -E '/state |hotplug-status' |
		tr '\n' ' ' | sed "s/^/xen-test: info $label: backend: /; s/ $/\n/"
	ip -s link show 2>/dev/null | grep -A5 "vif$domid\." | tr -s ' ' | tr '\n' '|' |
		sed "s/^/xen-test: info $label: dom0 link: /; s/|$/\n/"
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null
	for f in /sys/kernel/debug/xen-netback/vif"$domid".*/io_ring_q*; do
		[ -e "$f" ] || continue
		timeout 10 cat "$f" | tr -s ' \t' ' ' | tr '\n' '|' | sed "s|^|xen-test: info $label: netback ${f#/sys/kernel/debug/xen-netback/}: |; s/|$/\n/"
	done
	# Xen's view: the vCPU's upcall_pend/upcall_mask ('q') and the guest's event channels with
	# their pending and masked bits ('e'), from the hypervisor's console.
	xl dmesg -c >/dev/null 2>&1
	timeout 30 xl debug-keys q >/dev/null 2>&1
	timeout 30 xl debug-keys e >/dev/null 2>&1
	xl dmesg 2>/dev/null | awk -v d="$domid" '
		/information for domain/ { on = ($NF == d":" || $NF == d) }
		/^\(XEN\) *[A-Z][a-z].*for domain/ && !/information for domain/ { on = 0 }
		on || /upcall_pend/' | head -n 60 | tr -s ' ' | sed "s/^/xen-test: info $label: xen: /"
	tail -n 4 "$log" | tr -d '\r' | sed "s/^/xen-test: info $label: console: /"
}

# st_watch NAME LOG PATTERN LABEL runs until killed; when LOG has printed no line matching
# PATTERN (the guest's 5-second stats) for 20 s, it reports the stall and runs st_diagnose,
# once. Start it in the background.
st_watch() {
	local name=$1 log=$2 pattern=$3 label=$4 n last since=$SECONDS
	last=$(st_count "$log" "$pattern")
	while sleep 2; do
		n=$(st_count "$log" "$pattern")
		if [ "$n" != "$last" ]; then
			last=$n since=$SECONDS
		elif [ $((SECONDS - since)) -ge 20 ]; then
			xt_info "$label: $name printed no stats line for $((SECONDS - since)) s"
			st_diagnose "$name" "$log" "$label"
			return
		fi
	done
}
