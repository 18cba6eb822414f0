# saverestore.sh — phase 4: xl save / xl restore of the running unikernel, with traffic across.
# shellcheck shell=bash
#
# The guest acknowledges the toolstack's "suspend" request, suspends (SCHEDOP_shutdown with
# SHUTDOWN_suspend) and, restored as a new domain, maps shared_info and the grant table again,
# binds its VIRQ again, takes the cleared console and XenStore rings afresh, registers its
# watches again and reconnects netfront to the backend of the new domain. Each cycle checks:
#   - xl save succeeds and the domain is gone; xl restore succeeds;
#   - the console reports the resume;
#   - a download started before the save (read slowly so that it spans the save and the
#     restore, and still running when xl save starts and when xl restore returns) completes
#     with the right length and SHA-256: TCP connections survive;
#   - a new download and a ping pass afterwards;
# and after the last cycle, grants in use and goroutines are what they were before the first
# (both read from /metrics; a reading that fails is a FAIL of that check, with its reason).

# st_saverestore CYCLES runs the phase on examples/httpd.
st_saverestore() {
	local cycles=${1:-2} f=/tmp/st-httpd.save c t0 out rc domid newid nlog nres res pid
	local across=$((8 << 20)) rate=$((256 << 10)) g0 r0 why0 size early
	local leak="save/restore: nothing leaked"
	xt_domid "$HTTPD" >/dev/null || { xt_fail "save/restore" "$HTTPD is not running"; return; }
	if ! st_int "$cycles" || [ "$cycles" -lt 1 ]; then
		xt_fail "save/restore" "asked for $cycles cycles: nothing to test"
		return
	fi
	st_snapshot "before save/restore" 3
	g0=$ST_GRANTS r0=$ST_GOROUTINES why0=$ST_WHY
	st_want "$across"
	st_want $((16 << 20))
	for c in $(seq 1 "$cycles"); do
		domid=$(xt_domid "$HTTPD")
		res=/tmp/st-across.$c
		st_download "$across" 300 "$rate" >"$res" 2>&1 &
		pid=$!
		sleep 5
		early=''
		[ -s "$res" ] && early="it ended before xl save began ($(cat "$res")): it crossed nothing"
		nlog=$(wc -l <"$HTTPD_LOG")
		nres=$(st_count "$HTTPD_LOG" 'resumed in a new domain after')
		t0=$EPOCHREALTIME
		out=$(timeout 240 xl save "$HTTPD" "$f" 2>&1)
		rc=$?
		if [ $rc -ne 0 ] || xt_domid "$HTTPD" >/dev/null; then
			xt_fail "save/restore $c: xl save" "status $rc: $(tr '\n' '|' <<<"$out")"
			tail -n +$((nlog + 1)) "$HTTPD_LOG" | tr -d '\r' | grep -av ': stats ' | tail -n 5 |
				sed "s/^/xen-test: info save\/restore $c: console: /"
			xt_info "save/restore $c: control of domain $domid: $(timeout 10 xenstore-ls -f "/local/domain/$domid/control" 2>&1 | tr '\n' ' ')"
			# The guest's goroutines, if it still serves: where the suspend request got stuck.
			curl -sS --max-time 20 "$URL/debug/pprof/goroutine?debug=2" 2>&1 | grep -v '^\s*$' | head -n 400 |
				sed "s/^/xen-test: info save\/restore $c: goroutines: /"
			wait $pid
			return
		fi
		size=$(stat -c %s "$f" 2>/dev/null) && size="$((size >> 20)) MiB" || size="no file $f"
		xt_pass "save/restore $c: xl save of domain $domid in $(st_secs "$t0") s ($size)"
		t0=$EPOCHREALTIME
		out=$(timeout 240 xl restore "$f" 2>&1)
		rc=$?
		newid=$(xt_domid "$HTTPD")
		if [ $rc -ne 0 ] || [ -z "$newid" ]; then
			xt_fail "save/restore $c: xl restore" "status $rc: $(tr '\n' '|' <<<"$out")"
			wait $pid
			return
		fi
		xt_pass "save/restore $c: xl restore as domain $newid in $(st_secs "$t0") s"
		[ -z "$early" ] && [ -s "$res" ] && early="it ended before xl restore returned ($(cat "$res")): it crossed nothing"
		if st_wait_more "$HTTPD_LOG" 'resumed in a new domain after' "$nres" 60; then
			xt_pass "save/restore $c: $(tail -n +$((nlog + 1)) "$HTTPD_LOG" | grep -a 'resumed in a new domain after' | tail -n 1 | tr -d '\r')"
		else
			xt_fail "save/restore $c: the guest reports its resume" \
				"$(tail -n +$((nlog + 1)) "$HTTPD_LOG" | tr -d '\r' | grep -av ': stats ' | tail -n 5 | tr '\n' '|')"
			xl dmesg | grep -a "(d$newid)" | tail -n 10 | sed "s/^/xen-test: info save\/restore $c: xl dmesg: /"
			xt_info "save/restore $c: XenStore of domain $newid: $(timeout 10 xenstore-ls -f "/local/domain/$newid/control" 2>&1 | tr '\n' ' ')"
			st_diagnose "$HTTPD" "$HTTPD_LOG" "save/restore $c"
		fi
		wait $pid
		out=$(cat "$res")
		if [ -n "$early" ]; then
			xt_fail "save/restore $c: a download across the save and the restore" "$early"
		elif [[ $out == ok* ]]; then
			xt_pass "save/restore $c: a download of $((across >> 20)) MiB across the save and the restore is intact ($out s)"
		else
			xt_fail "save/restore $c: a download across the save and the restore" "$out"
		fi
		out=$(st_download $((16 << 20)) 120) &&
			xt_pass "save/restore $c: a new 16 MiB download after the restore ($out s)" ||
			xt_fail "save/restore $c: a new download after the restore" "$out"
		out=$(st_ping "$HTTPD_IP" 3) &&
			xt_pass "save/restore $c: ping after the restore ($out)" ||
			xt_fail "save/restore $c: ping after the restore" "$out"
		rm -f "$f" "$res"
	done
	if [ -z "$g0" ]; then
		xt_fail "$leak" "no /metrics reading before the first cycle: $why0"
	elif ! st_snapshot "after save/restore" 5; then
		xt_fail "$leak" "no /metrics reading after the last cycle: $ST_WHY"
	elif [ "$ST_GRANTS" -eq "$g0" ] && [ "$ST_GOROUTINES" -le "$r0" ]; then
		xt_pass "$leak: grants $g0 -> $ST_GRANTS, goroutines $r0 -> $ST_GOROUTINES"
	else
		xt_fail "$leak" "grants $g0 -> $ST_GRANTS, goroutines $r0 -> $ST_GOROUTINES"
	fi
	xt_info "after save/restore, httpd: $(st_last_stats "$HTTPD_LOG")"
}
