# linkflap.sh — phase 2: the backend's interface goes down and up under a running download.
# shellcheck shell=bash
#
# `ip link set vifD.N down` in dom0 stops netback's queues (the guest's TX ring is no longer
# drained, nothing reaches its RX ring) without touching XenStore, so netfront stays
# connected and only TCP notices. The download in flight must either complete with the right
# SHA-256 or fail cleanly (an error, never wrong bytes), and traffic must pass afterwards.

ST_FLAP_BYTES=$((32 << 20))

# st_flap DOWN_SECONDS flaps the vif for DOWN_SECONDS under a 32 MiB download.
st_flap() {
	local down=$1 devid domid vif pid t0 t_down out rc in_flight=yes
	local res=/tmp/st-flap.out
	if ! domid=$(xt_domid "$HTTPD") || ! devid=$(st_devid "$HTTPD"); then
		xt_fail "link flap ($down s)" "no vif for $HTTPD"
		return
	fi
	vif=vif$domid.$devid
	rm -f "$res"
	t0=$EPOCHREALTIME
	(
		out=$(st_download $ST_FLAP_BYTES 180)
		echo "$? $out" >"$res"
	) &
	pid=$!
	sleep 2
	[ -s "$res" ] && in_flight=no
	t_down=$(st_secs "$t0")
	ip link set dev "$vif" down || xt_info "ip link set $vif down failed"
	sleep "$down"
	ip link set dev "$vif" up || xt_info "ip link set $vif up failed"
	xt_info "link flap: $vif down for $down s, from $t_down s to $(st_secs "$t0") s into the download (in flight: $in_flight)"
	wait "$pid"
	read -r rc out <"$res"
	xt_info "link flap ($down s): download ended after $(st_secs "$t0") s: status $rc, $out"
	case $rc in
	0) xt_pass "download across a $down s link flap of $vif completed, SHA-256 matches" ;;
	1) xt_pass "download across a $down s link flap of $vif failed cleanly ($out)" ;;
	*) xt_fail "download across a $down s link flap of $vif" "$out" ;;
	esac
	xt_info "after the flap: $(st_last_stats "$HTTPD_LOG")"
}

# st_linkflap runs the phase: a short and a long flap, then traffic.
st_linkflap() {
	local out ok=1
	st_want $ST_FLAP_BYTES
	st_want $((256 << 10))
	st_flap 2
	st_flap 10
	sleep 6 # a stats line after the flaps
	if ! out=$(st_download $((256 << 10)) 60); then
		ok=
		xt_fail "traffic after the link flaps" "256 KiB download: $out"
	elif ! out=$(st_ping "$HTTPD_IP" 3); then
		ok=
		xt_fail "traffic after the link flaps" "ping: $out"
	fi
	[ -n "$ok" ] && xt_pass "traffic after the link flaps (256 KiB download SHA-256 ok, ping $out)"
	local v
	v=$(st_violations "$HTTPD_LOG")
	if [ "$v" = 0 ]; then
		xt_pass "no protocol violations after the cycles and flaps"
	else
		xt_fail "no protocol violations after the cycles and flaps" "$(st_last_stats "$HTTPD_LOG")"
	fi
}
