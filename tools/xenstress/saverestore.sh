# saverestore.sh — phase 4: xl save / xl restore, tried once and recorded.
# shellcheck shell=bash
#
# The guest does not implement suspend/resume (no SCHEDOP_shutdown(SHUTDOWN_suspend) on a
# "suspend" request, no re-binding of event channels, grant tables and XenStore after a
# restore): this phase only records what the toolstack and the guest do, as info lines, for
# docs/reliability.md. The one check: if xl save gives up and leaves the guest running, a
# guest that served before the save still serves.

# st_saverestore runs the phase on examples/httpd.
st_saverestore() {
	local f=/tmp/st-httpd.save t0 out rc domid nlog newid reason
	domid=$(xt_domid "$HTTPD") || { xt_info "save/restore: $HTTPD is not running"; return; }
	nlog=$(wc -l <"$HTTPD_LOG")
	local served=yes
	curl -sS --fail --max-time 20 "$URL/healthz" >/dev/null 2>&1 || served=no
	xt_info "save/restore: the guest answers /healthz before the save: $served"
	xt_info "save/restore: known gap (no suspend/resume in the guest); xl save $HTTPD (domain $domid), once"
	t0=$EPOCHREALTIME
	out=$(timeout 240 xl save "$HTTPD" "$f" 2>&1)
	rc=$?
	xt_info "save/restore: xl save exited with status $rc after $(st_secs "$t0") s"
	sed 's/^/xen-test: info save\/restore: xl save: /' <<<"$out"
	xt_info "save/restore: control/shutdown now '$(xenstore-read "/local/domain/$domid/control/shutdown" 2>&1)'"
	xt_info "save/restore: xl list: $(xl list 2>&1 | awk -v n="$HTTPD" '$1 == n' | tr -s ' ')"
	xt_info "save/restore: shutdown reason: $(xt_shutdown_reason "$HTTPD"); save file: $(ls -l "$f" 2>&1)"
	tail -n +$((nlog + 1)) "$HTTPD_LOG" | grep -av ': stats ' | tr -d '\r' | head -n 20 |
		sed 's/^/xen-test: info save\/restore: console: /'
	xt_info "save/restore: after xl save: $(st_last_stats "$HTTPD_LOG")"

	if [ $served = yes ] && xt_domid "$HTTPD" >/dev/null && [ "$(xl list "$HTTPD" 2>/dev/null | awk 'NR == 2 { print $5 }')" != "---s--" ]; then
		local ok=1 why=
		out=$(curl -sS --fail --max-time 20 "$URL/healthz" 2>&1) || { ok=; why="/healthz: $out"; }
		[ -n "$ok" ] && { out=$(st_ping "$HTTPD_IP" 3) || { ok=; why="ping: $out"; }; }
		if [ -n "$ok" ]; then
			xt_pass "guest still serves after xl save (status $rc) ($out)"
		else
			xt_fail "guest still serves after xl save" "$why"
		fi
	fi

	if [ "$rc" -eq 0 ] && [ -s "$f" ]; then
		nlog=$(wc -l <"$HTTPD_LOG" 2>/dev/null || echo 0)
		t0=$EPOCHREALTIME
		out=$(timeout 240 xl restore "$f" 2>&1)
		rc=$?
		xt_info "save/restore: xl restore exited with status $rc after $(st_secs "$t0") s"
		sed 's/^/xen-test: info save\/restore: xl restore: /' <<<"$out"
		newid=$(xt_domid "$HTTPD")
		sleep 20
		xt_info "save/restore: xl list 20 s after the restore: $(xl list 2>&1 | awk -v n="$HTTPD" '$1 == n' | tr -s ' ')"
		reason=$(xt_shutdown_reason "$HTTPD")
		xt_info "save/restore: restored domain ${newid:-none}: $reason"
		tail -n +$((nlog + 1)) "$HTTPD_LOG" 2>/dev/null | tr -d '\r' | tail -n 10 |
			sed 's/^/xen-test: info save\/restore: console after restore: /'
		[ -n "$newid" ] && xl dmesg | grep -a "(d$newid)\|d${newid}v" | tail -n 10 |
			sed 's/^/xen-test: info save\/restore: xl dmesg: /'
		xt_info "save/restore: ping after restore: $(st_ping "$HTTPD_IP" 3)"
		xt_info "save/restore: /healthz after restore: $(curl -sS --max-time 15 "$URL/healthz" 2>&1 | head -n 1)"
	fi
	rm -f "$f"
}
