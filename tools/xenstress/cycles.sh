# cycles.sh — phase 1: xl network-detach / network-attach cycles against examples/httpd.
# shellcheck shell=bash
#
# Each cycle detaches the guest's vif, waits for the guest to say "link down", attaches a new
# vif with the same MAC on xenbr0, waits for "link up", then checks traffic: a 256 KiB
# download with SHA-256 and one ping. A cycle passes when all of that happens in time. After
# cycle 1 and after the last, a quiet period and /metrics (st_snapshot): grant references and
# goroutines must not grow by more than 1 %; the heap is judged by its low-water marks over
# the console's 5-second stats lines (see docs/reliability.md for why).

ST_CYCLE_BYTES=$((256 << 10))

# st_cycle I runs cycle I; prints "pass|fail SECONDS DETACH XL_DETACH ATTACH XL_ATTACH TRAFFIC
# why": DETACH runs to the guest's "link down" and includes XL_DETACH, the time xl
# network-detach took; ATTACH runs to "link up" and includes XL_ATTACH.
st_cycle() {
	local i=$1 t0 t1 t2 devid downs ups out rc why=''
	local d_s=- a_s=- x_s=- xl_s=- xa_s=-
	t0=$EPOCHREALTIME
	downs=$(st_count "$HTTPD_LOG" '^httpd: netstack: link down')
	ups=$(st_count "$HTTPD_LOG" '^httpd: netstack: link up')
	if devid=$(st_devid "$HTTPD"); then
		out=$(xl network-detach "$HTTPD" "$devid" 2>&1)
		rc=$?
		xl_s=$(st_secs "$t0")
		if [ $rc -ne 0 ]; then
			why="xl network-detach $devid: $(tail -n 1 <<<"$out")"
		elif ! st_wait_more "$HTTPD_LOG" '^httpd: netstack: link down' "$downs" 30; then
			why="no 'link down' within 30 s of the detach"
		fi
	else
		# A failed cycle can leave the guest without a vif: this one only attaches.
		why="no vif to detach (a previous cycle left none)"
	fi
	d_s=$(st_secs "$t0")
	t1=$EPOCHREALTIME
	out=$(xl network-attach "$HTTPD" "mac=$HTTPD_MAC" bridge=xenbr0 2>&1)
	rc=$?
	xa_s=$(st_secs "$t1")
	if [ $rc -ne 0 ]; then
		why="${why:+$why; }xl network-attach: $(tail -n 1 <<<"$out")"
	elif ! st_wait_more "$HTTPD_LOG" '^httpd: netstack: link up' "$ups" 60; then
		why="${why:+$why; }no 'link up' within 60 s of the attach"
	fi
	a_s=$(st_secs "$t1")
	t2=$EPOCHREALTIME
	if [ -z "$why" ]; then
		if ! out=$(st_download $ST_CYCLE_BYTES 30); then
			why="256 KiB download: $out"
		elif ! out=$(st_ping "$HTTPD_IP"); then
			why="ping: $out"
		fi
		x_s=$(st_secs "$t2")
	fi
	if [ -z "$why" ]; then
		echo "pass $(st_secs "$t0") $d_s $xl_s $a_s $xa_s $x_s"
	else
		echo "fail $(st_secs "$t0") $d_s $xl_s $a_s $xa_s $x_s $why"
	fi
}

# st_cycles N runs the phase.
st_cycles() {
	local n=$1 i res verdict secs d xd a xa x why failed=0 failures='' times=() s0 s1 line0 line1
	local g0 r0 h0 ha0 why0='' why1=''
	if ! st_int "$n" || [ "$n" -lt 1 ]; then
		xt_fail "detach/attach cycles" "asked for $n cycles: nothing to test"
		return
	fi
	st_want $ST_CYCLE_BYTES
	line0=$(grep -ac '^httpd: stats ' "$HTTPD_LOG")
	for ((i = 1; i <= n; i++)); do
		res=$(st_cycle "$i")
		read -r verdict secs d xd a xa x why <<<"$res"
		times+=("$secs")
		xt_info "cycle $i/$n: $verdict in $secs s (detach to link down $d s of which xl $xd s, attach to link up $a s of which xl $xa s, traffic $x s)${why:+: $why}"
		if [ "$verdict" != pass ]; then
			failed=$((failed + 1))
			[ $failed -le 5 ] && failures+="cycle $i: $why; "
			[ $failed -eq 1 ] && st_diagnose "$HTTPD" "$HTTPD_LOG" "cycle $i failed"
		fi
		if [ $i -eq 1 ]; then
			s0=$EPOCHREALTIME
			st_snapshot "after cycle 1" && g0=$ST_GRANTS r0=$ST_GOROUTINES h0=$ST_HEAP ha0=$ST_HEAP_ALLOC
			why0=$ST_WHY
			s0=$(st_secs "$s0")
		fi
	done
	s1=$EPOCHREALTIME
	st_snapshot "after cycle $n" || why1=$ST_WHY
	s1=$(st_secs "$s1")
	line1=$(grep -ac '^httpd: stats ' "$HTTPD_LOG")

	local stats
	stats=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1; s += $1 }
		END { printf "min %.1f s, median %.1f s, mean %.1f s, max %.1f s, total %.0f s", v[1], v[int((NR + 1) / 2)], s / NR, v[NR], s }')
	xt_info "cycle times: $stats (plus ${s0:-?} s and $s1 s of quiet metric snapshots)"
	if [ $failed -eq 0 ]; then
		xt_pass "$n of $n xl network-detach/attach cycles, each followed by a SHA-256-checked download and a ping ($stats)"
	else
		xt_fail "detach/attach cycles" "$failed of $n failed: $failures"
	fi
	xt_info "after the cycles: $(st_last_stats "$HTTPD_LOG")"

	if [ -z "$g0" ]; then
		xt_fail "resources flat over the cycles" "no /metrics reading after cycle 1: $why0"
		return
	elif [ -n "$why1" ]; then
		xt_fail "resources flat over the cycles" "no /metrics reading after cycle $n: $why1"
		return
	fi
	# growth_ok BEFORE AFTER: AFTER <= BEFORE * 1.01 (integers: 100 * AFTER <= 101 * BEFORE).
	growth_ok() { [ $((100 * $2)) -le $((101 * $1)) ]; }
	if growth_ok "$g0" "$ST_GRANTS"; then
		xt_pass "grant references flat over $n cycles: $g0 after cycle 1, $ST_GRANTS after cycle $n"
	else
		xt_fail "grant references flat over $n cycles" "$g0 after cycle 1, $ST_GRANTS after cycle $n ($(pct "$g0" "$ST_GRANTS"))"
	fi
	if growth_ok "$r0" "$ST_GOROUTINES"; then
		xt_pass "goroutines flat over $n cycles: $r0 after cycle 1, $ST_GOROUTINES after cycle $n"
	else
		xt_fail "goroutines flat over $n cycles" "$r0 after cycle 1, $ST_GOROUTINES after cycle $n ($(pct "$r0" "$ST_GOROUTINES"))"
	fi
	xt_info "heap in use: $((h0 >> 10)) KiB after cycle 1, $((ST_HEAP >> 10)) KiB after cycle $n ($(pct "$h0" "$ST_HEAP")); objects $((ha0 >> 10)) -> $((ST_HEAP_ALLOC >> 10)) KiB"
	st_heap_verdict "$HTTPD_LOG" "$((line0 + 1))" "$line1" "$n"
}

# st_heap_verdict LOG FROM TO N judges the heap over the stats lines FROM..TO (one every 5 s)
# of the N cycles, split in fifths: the low-water mark of the last fifth must not exceed that
# of the second fifth by more than 10 % or ST_HEAP_SLACK_KIB (512), whichever is more.
# Why not two readings: TamaGo has no sysmon, hence no periodic forced GC, so a quiet guest
# never collects and a reading is anywhere between the live heap and the GC goal (at least
# 4 MiB with GOGC=100). The first fifth is the warm-up: the heap grows to that 4 MiB floor
# before the first collection. Over a fifth (20 cycles, ~30 readings, several collections)
# the lowest reading is close to the live heap after a collection, which is what a leak raises.
st_heap_verdict() {
	local log=$1 from=$2 to=$3 n=$4 k lo0 lo1 slack
	k=$(((to - from + 1) / 5))
	xt_info "heap in use over the cycles, KiB every 5 s: $(st_heap_series "$log" "$from" "$to" | tr '\n' ' ')"
	if [ "$n" -lt 20 ]; then
		# Asked for: a short run (make xen-stress XEN_STRESS_CYCLES=2) has no trend to judge.
		xt_info "heap: $n cycles are too few to judge the trend (20 cycles needed); not judged"
		return
	fi
	if [ "$k" -lt 5 ]; then
		xt_fail "heap flat over $n cycles" "only $((to - from + 1)) stats lines over $n cycles (25 needed; the guest prints one every 5 s)"
		return
	fi
	lo0=$(st_heap_series "$log" $((from + k)) $((from + 2 * k - 1)) | sort -n | head -n 1)
	lo1=$(st_heap_series "$log" $((to - k + 1)) "$to" | sort -n | head -n 1)
	if ! st_int "$lo0" || ! st_int "$lo1"; then
		xt_fail "heap flat over $n cycles" "stats lines without a heap figure (second fifth '$lo0', last fifth '$lo1' KiB)"
		return
	fi
	slack=$((lo0 / 10))
	[ $slack -lt "${ST_HEAP_SLACK_KIB:-512}" ] && slack=${ST_HEAP_SLACK_KIB:-512}
	xt_info "heap low-water marks: $lo0 KiB over the second fifth of the cycles, $lo1 KiB over the last fifth ($k stats lines each; allowed growth $slack KiB)"
	if [ "$lo1" -le $((lo0 + slack)) ]; then
		xt_pass "heap flat over $n cycles: low-water mark $lo0 KiB -> $lo1 KiB ($(pct "$lo0" "$lo1"))"
	else
		xt_fail "heap flat over $n cycles" "low-water mark $lo0 KiB over the second fifth of the cycles, $lo1 KiB over the last fifth"
	fi
}
