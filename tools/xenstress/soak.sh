# soak.sh — phase 3: TCP and UDP both ways for SOAK seconds (xensoak), against examples/httpd
# and examples/echo at once.
# shellcheck shell=bash
#
# xensoak loops downloads (SHA-256 of each against the pattern stream) and uploads (the
# guest's SHA-256 of each against what was sent) to httpd, keeps a TCP echo connection busy
# and sends UDP datagrams at a fixed rate to echo. Pass: not one TCP byte lost or corrupted,
# no UDP datagram altered, and fresh stats lines of both guests count no protocol violation.
# UDP loss is reported, not asserted. A figure missing from xensoak's result fails the soak.

# st_soak SECONDS runs the phase; sets ST_ECHO to the echo domain's name (test.sh destroys it).
# shellcheck disable=SC2154 # the SOAK_* variables come from xensoak's soak-result line
st_soak() {
	local secs=$1 echo_cfg=echo.cfg extra name elog echo_ip out kv
	echo_ip=$(sed -n 's/^[[:space:]]*extra[[:space:]]*=.*[" ]ip=\([0-9.]*\).*/\1/p' "$echo_cfg" | head -n 1)
	echo_ip=${echo_ip:-10.0.0.3}
	extra=$(sed -n 's/^extra *= *"\(.*\)"/\1/p' "$echo_cfg")
	if ! xt_create "$echo_cfg" "extra=\"$extra stats=5s\""; then
		xt_fail "soak: echo boot" "xl create failed"
		return
	fi
	name=$XT_NAME
	ST_ECHO=$name
	elog=$(xt_console_log "$name")
	if ! xt_wait_console "$name" '^echo: ready' 120; then
		xt_fail "soak: echo ready" "$(tail -n 4 "$elog" | tr '\n' '|')"
		return
	fi
	xt_info "soak: $secs s of downloads and uploads to $HTTPD_IP, TCP and UDP echo with $echo_ip"
	out=/tmp/st-soak.out
	# A guest that stops printing its stats lines has stalled: record its state right then.
	local w1 w2
	st_watch "$HTTPD" "$HTTPD_LOG" '^httpd: stats ' "soak: httpd stalled" &
	w1=$!
	st_watch "$name" "$elog" '^echo: stats ' "soak: echo stalled" &
	w2=$!
	xensoak -http "$URL" -echo "$echo_ip:7" -duration "${secs}s" -progress 60s \
		-downloads 2 -uploads 2 -tcp-echo 1 -udp-flows 2 -udp-rate 50 -udp-size 512 2>&1 |
		tee "$out" | grep -v '^soak-result ' | sed -u 's/^/xen-test: info /'
	kill "$w1" "$w2" 2>/dev/null
	wait "$w1" "$w2" 2>/dev/null
	kv=$(grep '^soak-result ' "$out" | tail -n 1)
	if [ -z "$kv" ]; then
		xt_fail "soak" "xensoak gave no result: $(tail -n 2 "$out" | tr '\n' '|')"
		return
	fi
	# Every key=value of the result line becomes a variable SOAK_<key>; the counts judged below
	# must all be there.
	local kvp k missing=''
	for kvp in ${kv#soak-result }; do
		printf -v "SOAK_${kvp%%=*}" '%s' "${kvp#*=}"
	done
	for k in seconds dl_ok dl_bytes dl_failed dl_corrupt ul_ok ul_bytes ul_failed ul_corrupt \
		echo_ok echo_bytes echo_failed echo_corrupt udp_received udp_altered; do
		kvp=SOAK_$k
		st_int "${!kvp}" || missing="$missing $k='${!kvp}'"
	done
	if [ -n "$missing" ]; then
		xt_fail "soak" "xensoak's result lacks figures:$missing: $kv"
		return
	fi
	local lost=$((SOAK_dl_failed + SOAK_dl_corrupt + SOAK_ul_failed + SOAK_ul_corrupt + SOAK_echo_failed + SOAK_echo_corrupt))
	local mib='BEGIN { printf "%.1f", n / 1048576 }'
	local what
	what="$SOAK_dl_ok downloads ($(awk -v n="$SOAK_dl_bytes" "$mib") MiB), $SOAK_ul_ok uploads ($(awk -v n="$SOAK_ul_bytes" "$mib") MiB), $SOAK_echo_ok TCP echo messages ($(awk -v n="$SOAK_echo_bytes" "$mib") MiB each way)"
	if [ "$lost" -eq 0 ] && [ "$SOAK_dl_ok" -gt 0 ] && [ "$SOAK_ul_ok" -gt 0 ] && [ "$SOAK_echo_ok" -gt 0 ]; then
		xt_pass "soak of $SOAK_seconds s: no TCP byte lost or corrupted: $what"
	else
		xt_fail "soak of $SOAK_seconds s" "$lost TCP transfers lost or corrupted (downloads failed $SOAK_dl_failed corrupt $SOAK_dl_corrupt, uploads failed $SOAK_ul_failed corrupt $SOAK_ul_corrupt, echo failed $SOAK_echo_failed corrupt $SOAK_echo_corrupt): $what"
	fi
	xt_info "soak: UDP echo: $SOAK_udp_sent datagrams sent, $SOAK_udp_received answered, loss $SOAK_udp_loss_pct %, $SOAK_udp_altered altered, $SOAK_udp_duplicated duplicated (loss reported, not asserted)"
	if [ "$SOAK_udp_received" -eq 0 ]; then
		xt_fail "soak: UDP datagrams intact" "no datagram came back, so none was checked"
	elif [ "$SOAK_udp_altered" -ne 0 ]; then
		xt_fail "soak: UDP datagrams intact" "$SOAK_udp_altered of $SOAK_udp_received came back altered"
	else
		xt_pass "soak: UDP datagrams intact ($SOAK_udp_received answered, none altered)"
	fi
	local nh ne
	nh=$(st_count "$HTTPD_LOG" ': stats ') ne=$(st_count "$elog" ': stats ')
	if st_snapshot "after the soak" 5; then
		xt_pass "soak: httpd answers /metrics after the soak"
	else
		xt_fail "soak: httpd answers /metrics after the soak" "$ST_WHY"
		st_diagnose "$HTTPD" "$HTTPD_LOG" "after the soak"
	fi
	xt_info "after the soak, httpd: $(st_last_stats "$HTTPD_LOG")"
	xt_info "after the soak, echo: $(st_last_stats "$elog")"
	st_check_violations "soak: no protocol violations in httpd" "$HTTPD_LOG" "$nh"
	st_check_violations "soak: no protocol violations in echo" "$elog" "$ne"
	xt_destroy "$name"
}
