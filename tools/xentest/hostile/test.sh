#!/usr/bin/env bash
# Real-Xen hostile suite: examples/echo and examples/httpd, both with memory = 32 (httpd.cfg
# says 64; it is overridden), under malformed and abusive traffic from dom0 (xenhostile), then
# a hostile toolstack (XenStore). Both guests get every kind of attack, in this order (so that
# the fragments are still held when the SYN flood comes): the checksum oracle, runt, giant,
# badip4, badip6, exthdr, garbage, badcsum, frag, synflood, connflood, slow, udpflood, xenstore
# (HOSTILE_KINDS picks some; `xenhostile kinds` says what each sends).
#
# After each kind it checks, each check passing only on positive evidence:
#   - both guests still run (xl) and neither console shows a fatal error;
#   - httpd answers GET / over IPv4, and over IPv6 at its global address and at its EUI-64
#     link-local address (%xenbr0); echo answers TCP and UDP over the same three (fd00::3 from
#     echo.cfg, or given by the suite if a config has no ip6=);
#   - the attack reached the guests (their RX counters grew by at least 90 % of the frames
#     sent to each; for the socket floods, they grew) and they counted what they dropped
#     (httpd's /metrics drop, malformed and checksum counters, SYN cookies after the SYN
#     flood, refused connections after the connection flood; echo's rx-badcsum in its stats
#     lines), read before the serve checks add their own traffic;
#   - neither guest's heap in use (the runtime's HeapInuse, which the stats lines print every
#     2 s) went over HOSTILE_HEAP_MIB (default 6 MiB) in any line printed during the attack.
# The budget: of a 32 MiB guest, the DMA region takes 4 MiB and the image (httpd's is 10 MB)
# and stacks most of the rest; the runtime maps its heap in 4 MiB arenas and crashes with
# "out of memory" when the next one does not fit. On the unfixed tree httpd crashed asking for
# a third arena with 8 MiB mapped ("cannot allocate 4194304-byte block (8159232 in use)"),
# echo for a fourth at 12 MiB. Idle, both use under 2 MiB. 6 MiB in use is three quarters of
# what a 32 MiB httpd can ever map: a guest above it survived by luck, and the suite fails it.
# The checksum oracle (xenhostile csum, against echo's port 7): a datagram or SYN with a wrong
# checksum, whole or fragmented, IPv4 or IPv6, behind destination options, must get no answer
# at all while the same with a right checksum is echoed, or answered with a SYN-ACK.
# Slow clients stay 20 s; whether the guests serve others meanwhile is only noted (a guest may
# refuse connections while its slots are taken), and the checks run once they have gone.
# XenStore (on httpd): garbage in the backend's state and feature keys, a fake backend restart
# that makes the frontend read those keys, its directory removed while connected: it must keep
# running; then xl network-detach and network-attach: it must serve again, reconnected.
#
# A failed measurement (curl error, a missing metric or stats line, a timeout) is a FAIL with
# its reason. A guest found dead is reported with its console's fatal lines and booted again,
# so that the later kinds still test something. A check that fails once is tried again after
# 2 s (UDP may lose a datagram under a flood) and passes "on retry" if it then succeeds.
#
# Run by tools/xentest/run.sh in the test dom0 (tools/xenimage) from a folder holding
# echo.elf, echo.cfg, httpd.elf and httpd.cfg, with xenhostile and xenpeer on PATH.
. /usr/lib/xentest/lib.sh

HEAP_MIB=${HOSTILE_HEAP_MIB:-6}
MEMORY=32
SCALE=${HOSTILE_SCALE:-1}
BR=xenbr0

# cfg_get CFG KEY: a plain value of an xl config (memory = 32).
cfg_get() { sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*\"\{0,1\}\([^\"]*\)\"\{0,1\}[[:space:]]*$/\1/p" "$1" | head -n 1; }
cfg_mac() { sed -n 's/.*mac=\([0-9a-fA-F:]*\).*/\1/p' "$1" | head -n 1; }
extra_get() { sed -n "s/.*[\" ]$2=\([0-9a-fA-F.:]*\).*/\1/p" <<<" $1"; }

# eui64_linklocal MAC prints the fe80:: address a host derives from MAC (RFC 4291 appendix A).
eui64_linklocal() {
	local IFS=:
	# shellcheck disable=SC2086 # split on the colons
	set -- $1
	printf 'fe80::%x:%x:%x:%x\n' $(((0x$1 ^ 2) << 8 | 0x$2)) $((0x$3 << 8 | 0xff)) \
		$((0xfe << 8 | 0x$4)) $((0x$5 << 8 | 0x$6))
}

# Per guest (g = echo or httpd): cfg, name, mac, ip4, ip6, ll, extra for xl create, domid, vif.
declare -A CFG NAME MAC IP4 IP6 LL EXTRA DOMID VIF
CFG[echo]=echo.cfg CFG[httpd]=httpd.cfg
for g in echo httpd; do
	NAME[$g]=$(xt_cfg_name "${CFG[$g]}")
	MAC[$g]=$(cfg_mac "${CFG[$g]}")
	extra=$(cfg_get "${CFG[$g]}" extra)
	IP4[$g]=$(extra_get "$extra" ip)
	IP6[$g]=$(extra_get "$extra" ip6)
	LL[$g]=$(eui64_linklocal "${MAC[$g]}")
	# A config without ip6= gets fd00::N (N as in its ip= in 10.0.0.0/24) for the IPv6 checks.
	[ -n "${IP6[$g]}" ] || { IP6[$g]=fd00::${IP4[$g]##*.}; extra="$extra ip6=${IP6[$g]}/64"; }
	EXTRA[$g]="$extra stats=2s"
done

mem=$(cfg_get echo.cfg memory)
if [ "$mem" = $MEMORY ]; then
	xt_pass "hostile: echo.cfg has memory = $MEMORY"
else
	xt_fail "hostile: echo.cfg has memory = $MEMORY" "it says memory = '${mem}'"
fi
xt_info "hostile: httpd.cfg says memory = $(cfg_get httpd.cfg memory); the suite boots it with memory = $MEMORY"

# boot G: create the guest with memory = 32 and wait for its ready line.
boot() {
	local g=$1 t0=$SECONDS
	if ! xt_create "${CFG[$g]}" "memory=$MEMORY" "extra=\"${EXTRA[$g]}\""; then
		xt_fail "hostile: $g boots" "xl create failed"
		return 1
	fi
	DOMID[$g]=$XT_DOMID
	VIF[$g]=vif$XT_DOMID.0
	if ! xt_wait_console "${NAME[$g]}" "^$g: ready" 180; then
		xt_fail "hostile: $g boots" "no '$g: ready' within 180 s: $(tail -n 4 "$(xt_console_log "${NAME[$g]}")" | tr -d '\r' | tr '\n' '|')"
		return 1
	fi
	xt_info "hostile: $g ready as domain ${DOMID[$g]} (${VIF[$g]}) in $((SECONDS - t0)) s"
}

# shellcheck disable=SC2317 # called from the trap
cleanup() {
	local g
	for g in echo httpd; do
		[ -n "${NAME[$g]}" ] || continue
		{ grep -av ': stats ' "$(clog "$g")" | tail -n 6; grep -a ': stats ' "$(clog "$g")" | tail -n 1; } 2>/dev/null |
			tr -d '\r' | sed "s/^/xen-test: info hostile $g console: /"
		xt_destroy "${NAME[$g]}"
	done
}
trap cleanup EXIT

t_suite=$SECONDS
boot echo || exit 0
boot httpd || exit 0
xt_pass "hostile: echo and httpd ready with memory = $MEMORY"

spec() {
	local g=$1 s
	s="name=$g,vif=${VIF[$g]},mac=${MAC[$g]},ip4=${IP4[$g]},ip6=${IP6[$g]}"
	if [ "$g" = echo ]; then s="$s,tcp=7,udp=7"; else s="$s,tcp=80"; fi
	echo "$s"
}

# --- measurements ----------------------------------------------------------------------------

declare -A DEAD # why a guest was found down in this round

# all_serve LABEL: serves for both guests and both families, at the same time (the results
# in a fixed order).
all_serve() {
	local tmp=/tmp/hostile-serves i gf pids=()
	i=0
	for gf in "httpd 4" "httpd 6" "echo 4" "echo 6"; do
		# shellcheck disable=SC2086 # two words
		serves "$1" $gf >"$tmp.$i" 2>&1 &
		pids+=($!)
		i=$((i + 1))
	done
	wait "${pids[@]}"
	cat "$tmp".[0-3]
	rm -f "$tmp".[0-3]
}

clog() { xt_console_log "${NAME[$1]}"; }
lines() { wc -l <"$(clog "$1")"; }

# crashed G prints the console's fatal lines, if any.
crashed() { grep -aE 'fatal error|panic:|out of memory|unexpected fault|SIGSEGV' "$(clog "$1")" | tr -d '\r' | head -n 3; }

# stats_after G LINE: the first stats line printed after console line LINE (waits up to 10 s).
stats_after() {
	local g=$1 from=$2 end=$((SECONDS + 10)) s
	while :; do
		s=$(tail -n +"$((from + 1))" "$(clog "$g")" | grep -a ": stats " | tail -n 1 | tr -d '\r')
		[ -n "$s" ] && { echo "$s"; return 0; }
		[ $SECONDS -ge $end ] && return 1
		sleep 0.5
	done
}

# last_stats G: the guest's latest stats line.
last_stats() { grep -a ": stats " "$(clog "$1")" | tail -n 1 | tr -d '\r'; }

# stat_delta BEFORE AFTER RE: how much the number matched by sed RE (one group) grew between
# two stats lines; fails when either line lacks it.
stat_delta() {
	local a b
	a=$(sed -n "s/.*$3.*/\1/p" <<<"$1") b=$(sed -n "s/.*$3.*/\1/p" <<<"$2")
	[[ $a =~ ^[0-9]+$ && $b =~ ^[0-9]+$ ]] || return 1
	echo $((b - a))
}

# peak_heap G LINE: the largest heap (KiB) of the stats lines printed after console line LINE.
peak_heap() {
	tail -n +"$(($2 + 1))" "$(clog "$1")" | grep -a ": stats " | sed -n 's/.* heap \([0-9][0-9]*\) KiB.*/\1/p' | sort -n | tail -n 1
}

metrics() { curl -sS --fail --max-time "${1:-10}" "http://${IP4[httpd]}/metrics" 2>&1; }

# msum TEXT AWK-RE: the sum of the samples whose line matches RE (no comments, no TX); fails,
# printing nothing, when no sample matches (a metric missing is not a zero).
msum() { awk -v re="$2" '!/^#/ && $0 ~ re && !/dir="tx"/ { s += $NF; n++ } END { if (n) printf "%d", s; exit !n }' <<<"$1"; }
# mdelta BEFORE AFTER AWK-RE: how much msum grew between two readings of /metrics; fails,
# printing which reading lacks it, when either has no sample matching RE.
mdelta() {
	local a b
	a=$(msum "$1" "$3") || { echo "no $3 before"; return 1; }
	b=$(msum "$2" "$3") || { echo "no $3 after"; return 1; }
	echo $((b - a))
}
DROPS_RE='^tamaxen_[a-z0-9_]*(drop|malformed|checksum_error|bad_checksum|invalid|overflow|cookie|reject|refused|evict)'
RX_RE='^tamaxen_netfront_packets_total[{].*dir="rx"'
CSUM_RE='^tamaxen_(netstack_rx_bad_checksum_total|tcp_checksum_errors_total|udp_checksum_errors_total)'

# try DESC CMD...: runs CMD; on failure once more after 2 s. Prints CMD's complaint on failure,
# "on retry" when only the second try passed.
try() {
	local out
	out=$("$@" 2>&1) && return 0
	sleep 2
	if "$@" >/dev/null 2>&1; then
		echo "on retry (first try: $(tail -n 1 <<<"$out" | cut -c1-100))"
		return 0
	fi
	tail -n 1 <<<"$out" | cut -c1-160
	return 1
}

http_get() {
	local out
	out=$(curl -gsS --fail --max-time 10 "$1" 2>&1)
	[[ $out == "hello from tamaxen"* ]] && return 0
	echo "$1: ${out:0:120}"
	return 1
}
echo_tcp_udp() {
	xenpeer tcp -addr "$1" -count 3 -size 700 -conns 1 -timeout 5s >/dev/null || return 1
	xenpeer udp -addr "$1" -count 3 -size 300 >/dev/null
}

# serves LABEL G FAMILY: HTTP (httpd) or TCP+UDP echo over IPv4, or over IPv6 (global and
# link-local), as one check.
serves() {
	local label=$1 g=$2 fam=$3 a bad="" notes="" out what addrs=()
	if [ "$fam" = 4 ]; then addrs=("${IP4[$g]}"); else addrs=("${IP6[$g]}" "${LL[$g]}%$BR"); fi
	what="$g answers HTTP"
	[ "$g" = echo ] && what="$g answers TCP and UDP echo"
	if [ -n "${DEAD[$g]}" ]; then
		xt_fail "$label: $what over IPv$fam" "the guest is down (${DEAD[$g]})"
		return
	fi
	for a in "${addrs[@]}"; do
		if [ "$g" = httpd ]; then
			case $a in *:*) out=$(try http_get "http://[${a/\%/%25}]/") ;; *) out=$(try http_get "http://$a/") ;; esac
		else
			case $a in *:*) out=$(try echo_tcp_udp "[$a]:7") ;; *) out=$(try echo_tcp_udp "$a:7") ;; esac
		fi
		# shellcheck disable=SC2181 # $? of the assignment is try's
		if [ $? -ne 0 ]; then bad="$bad $a: $out;"; elif [ -n "$out" ]; then notes="$notes $a $out;"; fi
	done
	if [ -z "$bad" ]; then
		xt_pass "$label: $what over IPv$fam (${addrs[*]})${notes:+,$notes}"
	else
		bad=${bad# }
		xt_fail "$label: $what over IPv$fam" "${bad%;}"
	fi
}

# crash_summary G: the fatal lines of a console, how many goroutines its traceback lists, and
# the functions that started most of them.
crash_summary() {
	local log
	log=$(clog "$1")
	grep -aE 'fatal error|out of memory|^panic:' "$log" | tr -d '\r' | head -n 3
	grep -a ': stats ' "$log" | tail -n 1 | tr -d '\r' | sed 's/^/last stats line: /'
	tr -d '\r' <"$log" | awk '/^goroutine [0-9]+ \[/ { n++ } /^created by / { sub(/ in goroutine [0-9]+$/, ""); c[$0]++ }
		END { if (n) { printf "%d goroutines in the traceback", n; for (k in c) if (c[k] > 2) printf "; %d %s", c[k], k; print "" } }'
}

# alive LABEL: both guests running and no fatal console line; a dead guest is reported with
# its console, then booted again for the next kinds (DEAD[g] says why for this round).
alive() {
	local label=$1 g reason fatal bad=""
	DEAD=()
	for g in echo httpd; do
		reason=$(xt_shutdown_reason "${NAME[$g]}")
		fatal=$(crashed "$g")
		if [ "$reason" != running ] || [ -n "$fatal" ]; then
			DEAD[$g]="$reason${fatal:+: $(head -n 1 <<<"$fatal")}"
			bad="$bad ${NAME[$g]} (domain ${DOMID[$g]}): ${DEAD[$g]};"
		fi
	done
	if [ -z "$bad" ]; then
		xt_pass "$label: both guests running, no fatal error on their consoles"
		return 0
	fi
	xt_fail "$label: both guests running, no fatal error on their consoles" "${bad% ;}"
	for g in "${!DEAD[@]}"; do
		crash_summary "$g" | sed "s/^/xen-test: info hostile $g crash: /"
		xt_info "hostile: booting $g again for the next kinds"
		xt_destroy "${NAME[$g]}"
		boot "$g" || true
	done
	return 1
}

# web_state: whether httpd answers over IPv4 now (informational).
web_state() { if curl -sS --fail --max-time 4 "http://${IP4[httpd]}/" >/dev/null 2>&1; then echo up; else echo down; fi; }

# --- one kind ----------------------------------------------------------------------------------

# round KIND RUN-ARGS...: snapshot counters, run the attack, then every check.
round() {
	local kind=$1 t0=$SECONDS out rc m0 m1 from_e from_h e0 e1 label
	shift
	label="after $kind"
	m0=$(metrics) || m0=
	from_e=$(lines echo) from_h=$(lines httpd)
	e0=$(last_stats echo)
	out=$("$@" 2>&1)
	rc=$?
	xt_info "hostile $kind: $(tr '\n' ' ' <<<"$out" | cut -c1-400)"
	if [ $rc -ne 0 ]; then
		xt_fail "$kind: the attack ran" "xenhostile exited with status $rc: $(tail -n 1 <<<"$out")"
	fi
	checks "$kind" "$label" "$out" "$m0" "$from_e" "$from_h" "$e0"
	xt_info "hostile $kind: attack and checks took $((SECONDS - t0)) s"
}

# checks KIND LABEL TOOL-OUTPUT METRICS-BEFORE ECHO-LINE HTTPD-LINE ECHO-STATS-BEFORE
checks() {
	local kind=$1 label=$2 out=$3 m0=$4 from_e=$5 from_h=$6 e0=$7 m1 e1 sent_e sent_h
	local rx_h drops_h csum_h rx_e bc_e why="" ev="" peak_e peak_h
	alive "$label"

	# The counters first: the serve checks below add traffic of their own.
	sent_e=$(sed -n 's/.* echo=\([0-9]*\).*/\1/p' <<<"$out" | head -n 1)
	sent_h=$(sed -n 's/.* httpd=\([0-9]*\).*/\1/p' <<<"$out" | head -n 1)
	if [ -n "${DEAD[httpd]}" ]; then
		why="httpd was down;"
	elif [ -z "$m0" ] || ! m1=$(metrics); then
		why="httpd's /metrics could not be read (${m1:-before the attack});"
	else
		local cookies refused lack=''
		rx_h=$(mdelta "$m0" "$m1" "$RX_RE") || lack="$lack $rx_h;"
		drops_h=$(mdelta "$m0" "$m1" "$DROPS_RE") || lack="$lack $drops_h;"
		csum_h=$(mdelta "$m0" "$m1" "$CSUM_RE") || lack="$lack $csum_h;"
		cookies=$(mdelta "$m0" "$m1" '^tamaxen_tcp_syn_cookies_total') || lack="$lack $cookies;"
		refused=$(mdelta "$m0" "$m1" '^tamaxen_tcp_refused_total') || lack="$lack $refused;"
		if [ -n "$lack" ]; then
			why="httpd's /metrics lacks counters:$lack"
		else
			ev="httpd rx +$rx_h${sent_h:+ for $sent_h sent}, drop counters +$drops_h, checksum counters +$csum_h"
			[ -n "$sent_h" ] && [ $((rx_h * 10)) -lt $((sent_h * 9)) ] && why="$why httpd received $rx_h frames of $sent_h sent;"
			case $kind in
			runt | giant | badip4 | badip6 | frag | exthdr | garbage) [ "$drops_h" -gt 0 ] || why="$why httpd's drop counters did not move;" ;;
			badcsum) [ "$csum_h" -gt 0 ] || why="$why httpd's checksum counters did not move;" ;;
			synflood)
				ev="$ev, SYN cookies +$cookies"
				[ "$cookies" -gt 0 ] || why="$why httpd sent no SYN cookie: half-open connections past its backlog;"
				;;
			connflood)
				ev="$ev, connections refused +$refused"
				[ "$refused" -gt 0 ] || why="$why httpd refused no connection past its limit;"
				;;
			*) [ "$rx_h" -gt 0 ] || why="$why httpd's RX counter did not move;" ;;
			esac
		fi
	fi
	if [ -n "${DEAD[echo]}" ]; then
		why="$why echo was down;"
	elif ! e1=$(stats_after echo "$(lines echo)"); then
		why="$why no stats line from echo after the attack;"
	elif [ -z "$e0" ]; then
		why="$why no stats line from echo before the attack;"
	elif ! rx_e=$(stat_delta "$e0" "$e1" '| rx \([0-9]*\) pkts') || ! bc_e=$(stat_delta "$e0" "$e1" 'rx-badcsum \([0-9]*\)'); then
		why="$why echo's stats lines have no 'rx N pkts' or 'rx-badcsum N': $(cut -c1-160 <<<"$e1");"
	else
		ev="${ev:+$ev; }echo rx +$rx_e${sent_e:+ for $sent_e sent}, rx-badcsum +$bc_e"
		[ -n "$sent_e" ] && [ $((rx_e * 10)) -lt $((sent_e * 9)) ] && why="$why echo received $rx_e frames of $sent_e sent;"
		[ "$rx_e" -gt 0 ] || why="$why echo's RX counter did not move;"
		[ "$kind" = badcsum ] && [ "$bc_e" -le 0 ] && why="$why echo's rx-badcsum did not move;"
	fi
	if [ -z "$why" ]; then
		xt_pass "$label: the guests got the attack and counted drops ($ev)"
	else
		xt_fail "$label: the guests got the attack and counted drops" "${why# }${ev:+ ($ev)}"
	fi
	all_serve "$label"

	why=""
	for g in echo httpd; do
		[ -n "${DEAD[$g]}" ] && { why="$why $g was down;"; continue; }
		local from=$from_e
		[ $g = httpd ] && from=$from_h
		local p
		p=$(peak_heap "$g" "$from")
		if [ -z "$p" ]; then
			why="$why no stats line from $g during the attack;"
		elif [ "$p" -ge $((HEAP_MIB * 1024)) ]; then
			why="$why $g's heap reached $((p / 1024)) MiB;"
		fi
		[ $g = echo ] && peak_e=$p || peak_h=$p
	done
	if [ -z "$why" ]; then
		xt_pass "$label: heap stayed under $HEAP_MIB MiB (peak: echo $((peak_e / 1024)) MiB, httpd $((peak_h / 1024)) MiB)"
	else
		xt_fail "$label: heap stayed under $HEAP_MIB MiB" "${why# }"
	fi
}

# --- the attacks ---------------------------------------------------------------------------

# attack KIND: xenhostile's attack of that kind at both guests.
attack() {
	round "$1" xenhostile attack -kind "$1" -scale "$SCALE" -duration 25s -target "$(spec echo)" -target "$(spec httpd)"
}

# oracle: the checksum cases with a positive oracle, against echo's UDP and TCP port 7. Every
# case `xenhostile kinds` lists must report ok or FAIL, and xenhostile must end with status 0
# (all ok) or 1 (some FAIL); 2 is an error of its own.
oracle() {
	local out rc verdict rest want got
	want=$(xenhostile kinds 2>/dev/null | grep -c '^csum case ')
	out=$(xenhostile csum -target "$(spec echo)" -timeout 10s -grace 3s 2>&1)
	rc=$?
	while read -r verdict rest; do
		case $verdict in
		ok) xt_pass "bad checksum ${rest%%:*}: ${rest#*: }" ;;
		FAIL) xt_fail "bad checksum ${rest%%:*}" "${rest#*: }" ;;
		esac
	done <<<"$out"
	got=$(grep -cE '^(ok|FAIL) ' <<<"$out")
	if [ "$rc" -gt 1 ] || [ "$got" -eq 0 ] || [ "$got" != "$want" ]; then
		xt_fail "bad checksum cases" "$got of ${want:-?} cases reported, xenhostile csum exited with status $rc: $(grep -vE '^(ok|FAIL) ' <<<"$out" | tail -n 1)"
	fi
}

# slow: slow clients stay for 20 s. Whether the guests serve others meanwhile is noted (a
# guest may refuse new connections while its slots are taken); the checks run once they left.
slow() {
	local t0=$SECONDS m0 from_e from_h e0 pid rc
	m0=$(metrics) || m0=
	from_e=$(lines echo) from_h=$(lines httpd)
	e0=$(last_stats echo)
	xenhostile attack -kind slow -conns 40 -duration 20s -target "$(spec echo)" -target "$(spec httpd)" >/tmp/hostile-slow.out 2>&1 &
	pid=$!
	sleep 8
	xt_info "hostile slow: while the slow clients are connected: httpd HTTP over IPv4 $(web_state), echo TCP+UDP over IPv4 $(echo_tcp_udp "${IP4[echo]}:7" >/dev/null 2>&1 && echo up || echo down)"
	wait $pid
	rc=$?
	xt_info "hostile slow: $(tr '\n' ' ' </tmp/hostile-slow.out | cut -c1-400)"
	[ $rc -eq 0 ] || xt_fail "slow: the attack ran" "xenhostile exited with status $rc: $(tail -n 1 /tmp/hostile-slow.out)"
	checks slow "after slow" "" "$m0" "$from_e" "$from_h" "$e0"
	xt_info "hostile slow: attack and checks took $((SECONDS - t0)) s"
}

# reconnects: httpd's tamaxen_netfront_reconnects_total, or nothing if /metrics fails.
reconnects() {
	local m
	m=$(metrics 4) && grep -q '^tamaxen_netfront_reconnects_total' <<<"$m" && msum "$m" '^tamaxen_netfront_reconnects_total'
}

# xs_do CMD ARG...: a xenstore-write or xenstore-rm of the XenStore cases; a failure is noted
# in XS_BAD, since a case that was not made tests nothing.
XS_BAD=''
xs_do() {
	local out
	out=$("$@" 2>&1) || XS_BAD="$XS_BAD \`$*\`: $(tail -n 1 <<<"$out");"
}

# still_running G WHAT: a check that G runs and its console shows no fatal error, after the
# XenStore writes of WHAT all succeeded (XS_BAD, cleared here).
still_running() {
	local reason fatal bad=$XS_BAD
	XS_BAD=''
	reason=$(xt_shutdown_reason "${NAME[$1]}")
	fatal=$(crashed "$1")
	if [ -n "$bad" ]; then
		xt_fail "xenstore: $2: $1 still running" "the case was not made:${bad%;}"
	elif [ "$reason" = running ] && [ -z "$fatal" ]; then
		xt_pass "xenstore: $2: $1 still running"
	else
		xt_fail "xenstore: $2: $1 still running" "$reason${fatal:+: $fatal}"
	fi
}

# xenstore: garbage in the backend's state and feature keys, a fake backend restart, the
# frontend directory removed while connected, then xl network-detach and network-attach: no
# crash, and the device recovers once the toolstack gives it a vif again.
xenstore() {
	local t0=$SECONDS g=httpd d be fe r0 r_mid r1 from_h state0 v k out ok end detached
	d=${DOMID[$g]}
	be=/local/domain/0/backend/vif/$d/0
	fe=/local/domain/$d/device/vif/0
	r0=$(reconnects) || r0=
	from_h=$(lines httpd)

	if ! state0=$(xenstore-read "$be/state" 2>&1); then
		xt_fail "xenstore: the backend's state key" "xenstore-read $be/state: $state0"
		return
	fi
	for v in banana "" 99 -1 18446744073709551621 "4 junk" 0x4; do
		xs_do xenstore-write -- "$be/state" "$v" # -- : "-1" is a value, not an option
		sleep 0.5
	done
	xs_do xenstore-write "$be/state" "$state0"
	sleep 1
	still_running $g "garbage in the backend's state key"
	xt_info "hostile xenstore: HTTP after the garbage state: $(web_state)"
	for k in feature-sg feature-gso-tcpv4 feature-gso-tcpv6 feature-rx-copy feature-split-event-channels \
		multi-queue-max-queues feature-ipv6-csum-offload feature-no-csum-offload feature-rx-flip mac; do
		xs_do xenstore-write "$be/$k" "$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
	done
	xs_do xenstore-write "$be/multi-queue-max-queues" 4294967295
	# A backend that goes away and comes back: the frontend reconnects and reads those keys.
	xs_do xenstore-write "$be/state" 5
	sleep 2
	xs_do xenstore-write "$be/state" 2
	sleep 2
	xs_do xenstore-write "$be/state" "$state0"
	sleep 2
	# The frontend's directory removed while connected.
	xs_do xenstore-rm "$fe"
	sleep 3
	still_running $g "garbage feature keys read on a fake backend restart, then the frontend directory removed"
	r_mid=$(reconnects) || r_mid=
	xt_info "hostile xenstore: HTTP with the frontend directory gone: $(web_state); reconnects_total ${r_mid:-unreadable}"
	[ -n "$r_mid" ] && r0=$r_mid
	xt_info "hostile xenstore: $g console: $(tail -n +"$((from_h + 1))" "$(clog $g)" | grep -av ': stats ' | tr -d '\r' | tail -n 6 | tr '\n' '|')"

	# The toolstack takes the vif away and gives it back: the device must recover.
	if ! out=$(timeout 60 xl network-detach "$d" 0 2>&1); then
		xt_fail "xenstore: xl network-detach takes the vif away" "xl network-detach $d 0: $(tail -n 1 <<<"$out")"
	else
		sleep 2
		detached=$(web_state)
		xt_info "hostile xenstore: HTTP with the vif detached: $detached"
		if [ "$detached" = up ]; then
			xt_fail "xenstore: xl network-detach takes the vif away" "httpd still answered HTTP with its vif detached"
		elif out=$(timeout 60 xl network-attach "$d" "mac=${MAC[$g]}" bridge=$BR devid=0 2>&1); then
			VIF[$g]=vif$d.0
			ok="" end=$((SECONDS + 90))
			while [ $SECONDS -lt $end ]; do
				http_get "http://${IP4[$g]}/" >/dev/null && { ok=1; break; }
				sleep 2
			done
			r1=$(reconnects) || r1=
			if [ -n "$ok" ] && [ -n "$r0" ] && [ -n "$r1" ] && [ "$r1" -gt "$r0" ]; then
				xt_pass "xenstore: after xl network-detach and network-attach $g serves HTTP again (reconnects_total $r0 -> $r1)"
			else
				xt_fail "xenstore: after xl network-detach and network-attach $g serves HTTP again" \
					"${ok:+served, but }reconnects_total ${r0:-unreadable} -> ${r1:-unreadable}; $(http_get "http://${IP4[$g]}/")"
			fi
		else
			xt_fail "xenstore: xl network-attach" "$out"
		fi
	fi
	alive "after the XenStore cases"
	serves "after the XenStore cases" httpd 4
	serves "after the XenStore cases" httpd 6
	serves "after the XenStore cases" echo 4
	xt_info "hostile xenstore: took $((SECONDS - t0)) s"
}

# --- the run -------------------------------------------------------------------------------

# The checksum oracle comes first: its right-checksum fragments must be reassembled, and every
# kind that sends fragments spends the guests' fragment budget (netstack.Limits.FragBytes per
# 60 s window), after which fragments are refused for up to two windows, by design.
# Fragments come right before the SYN flood: the reassembly buffers are still held when the
# half-open connections pile up, the combination that ran a 32 MiB guest out of memory.
KINDS=${HOSTILE_KINDS:-oracle runt giant badip4 badip6 exthdr garbage badcsum frag synflood connflood slow udpflood xenstore}
m0=$(metrics) || m0=
from_e=$(lines echo) from_h=$(lines httpd)
e0=$(stats_after echo 0)
# The baseline's traffic is three pings to each guest, so that their RX counters have
# something to count: a quiet bridge (Debian 13's dom0 sends nothing unasked) leaves them
# still otherwise, and the check would fail for want of traffic, not for a fault.
for g in echo httpd; do
	busybox ping -c 3 -W 2 "${IP4[$g]}" >/dev/null 2>&1 || xt_info "hostile baseline: ping $g: no answer"
done
checks baseline "before any attack" "" "$m0" "$from_e" "$from_h" "$e0"
for kind in $KINDS; do
	case $kind in
	oracle | slow | xenstore) $kind ;;
	connflood) round connflood xenhostile attack -kind connflood -conns "$(awk -v s="$SCALE" 'BEGIN { printf "%d", 300 * s }')" -hold 5s -duration 25s -target "$(spec echo)" -target "$(spec httpd)" ;;
	udpflood) round udpflood xenhostile attack -kind udpflood -count "$(awk -v s="$SCALE" 'BEGIN { printf "%d", 6000 * s }')" -duration 10s -target "$(spec echo)" -target "$(spec httpd)" ;;
	*) attack "$kind" ;;
	esac
done
xt_info "hostile: suite took $((SECONDS - t_suite)) s"
