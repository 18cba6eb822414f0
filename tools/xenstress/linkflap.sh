# linkflap.sh — phase 2: the backend's interface goes down and up under a running download.
# shellcheck shell=bash
#
# `ip link set vifD.N down` in dom0 stops netback's queues (the guest's TX ring is no longer
# drained, nothing reaches its RX ring) without touching XenStore, so netfront stays
# connected and only TCP notices. The download in flight must complete with the right length
# and SHA-256: an outage of 10 s is well within what TCP rides out by retransmitting, so a
# download that fails (a curl error or timeout) fails the check as much as one with wrong
# bytes. A download that ended before the link went down tested nothing and fails too. Traffic
# must pass afterwards.

ST_FLAP_BYTES=$((32 << 20))

# st_flap DOWN_SECONDS flaps the vif for DOWN_SECONDS under a 32 MiB download.
st_flap() {
	local down=$1 devid domid vif pid t0 t_down out rc check
	local res=/tmp/st-flap.out
	check="download across a $down s link flap"
	if ! domid=$(xt_domid "$HTTPD") || ! devid=$(st_devid "$HTTPD"); then
		xt_fail "$check" "no vif for $HTTPD"
		return
	fi
	vif=vif$domid.$devid
	check="$check of $vif"
	rm -f "$res"
	t0=$EPOCHREALTIME
	(
		out=$(st_download $ST_FLAP_BYTES 180)
		echo "$? $out" >"$res"
	) &
	pid=$!
	sleep 2
	t_down=$(st_secs "$t0")
	if [ -s "$res" ]; then
		wait "$pid"
		xt_fail "$check" "the download ended $t_down s in, before the link went down, so the flap tested nothing: $(cat "$res")"
		return
	fi
	if ! out=$(ip link set dev "$vif" down 2>&1); then
		wait "$pid"
		xt_fail "$check" "ip link set $vif down: $out"
		return
	fi
	sleep "$down"
	if ! out=$(ip link set dev "$vif" up 2>&1); then
		xt_fail "$check" "ip link set $vif up: $out"
		sleep 1
		ip link set dev "$vif" up || xt_info "ip link set $vif up failed again: $vif stays down"
		wait "$pid"
		return
	fi
	xt_info "link flap: $vif down for $down s, from $t_down s to $(st_secs "$t0") s into the download"
	wait "$pid"
	rc='' out=''
	[ -s "$res" ] && read -r rc out <"$res"
	xt_info "link flap ($down s): download ended after $(st_secs "$t0") s: status ${rc:-none}, $out"
	case $rc in
	0) xt_pass "$check completed, length and SHA-256 match (${out#ok } s)" ;;
	1) xt_fail "$check" "the download failed: $out" ;;
	2) xt_fail "$check" "$out" ;;
	*) xt_fail "$check" "the download left no result (status '$rc' in $res)" ;;
	esac
	xt_info "after the flap: $(st_last_stats "$HTTPD_LOG")"
}

# st_linkflap runs the phase: a short and a long flap, then traffic, then a fresh stats line
# must count no protocol violation.
st_linkflap() {
	local out n
	st_want $ST_FLAP_BYTES
	st_want $((256 << 10))
	st_flap 2
	st_flap 10
	n=$(st_count "$HTTPD_LOG" ': stats ')
	if ! out=$(st_download $((256 << 10)) 60); then
		xt_fail "traffic after the link flaps" "256 KiB download: $out"
	elif ! out=$(st_ping "$HTTPD_IP" 3); then
		xt_fail "traffic after the link flaps" "ping: $out"
	else
		xt_pass "traffic after the link flaps (256 KiB download SHA-256 ok, ping $out)"
	fi
	st_check_violations "no protocol violations after the cycles and flaps" "$HTTPD_LOG" "$n"
}
