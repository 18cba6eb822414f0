#!/usr/bin/env bash
# Real-Xen checks of netfront (examples/netcheck) against Linux netback: negotiated features,
# ARP and ICMP from dom0 at several sizes, UDP echo, traffic on every queue, xl network-detach
# and network-attach, and no protocol violation over the whole run: the guest prints its queue
# counters within 2 s of a change in what it answered or in the violations it counted, and once
# more on xl shutdown, so the last counters it prints are its final ones.
. /usr/lib/xentest/lib.sh

QUEUES=2

# Netback offers as many queues as dom0 has vCPUs (one here) unless told otherwise.
echo $QUEUES > /sys/module/xen_netback/parameters/max_queues 2>/dev/null ||
	xt_info "cannot raise xen_netback max_queues"

if ! xt_create netcheck.cfg "extra=\"ip=10.0.0.2 queues=$QUEUES timeout=300s\""; then
	xt_fail "netcheck boot" "xl create failed"
	sed 's/^/xen-test: info netcheck console: /' "$(xt_console_log tamaxen-netcheck)"
	exit 0
fi
name=$XT_NAME domid=$XT_DOMID
log=$(xt_console_log "$name")
if ! xt_wait_console "$name" '^netcheck: ready' 90; then
	xt_fail "netfront connects to netback" "$(tail -4 "$log" | tr '\n' '|')"
	sed 's/^/xen-test: info netcheck console: /' "$log"
	xt_destroy "$name"
	exit 0
fi
xt_pass "netfront connects to netback ($(sed -n 's/^netcheck: connected .* in //p' "$log" | tr -d '\r'))"
feat=$(sed -n 's/^netcheck: features //p' "$log" | tr -d '\r')
xt_info "negotiated: $feat"
for f in rx-copy=true sg=true gso-tcpv4=true gso-tcpv6=true split-evtchn=true queues=$QUEUES; do
	case " $feat " in
	*" $f "*) xt_pass "negotiated $f with Linux netback" ;;
	*) xt_fail "negotiated $f" "features: $feat" ;;
	esac
done
vif=$(ls /sys/class/net | grep "^vif$domid\." | head -1)
if [ -n "$vif" ]; then
	xt_info "backend vif $vif: $(cat "/sys/class/net/$vif/operstate" 2>/dev/null)"
else
	xt_fail "backend vif" "no vif$domid.* in /sys/class/net: $(ls /sys/class/net | tr '\n' ' ')"
fi

# queue_lines TEXT: the queue counter lines of TEXT, without carriage returns.
queue_lines() { tr -d '\r' <<<"$1" | grep '^netcheck: queue '; }

# no_violations LINES succeeds when LINES (queue counter lines, oldest first) hold a line for
# every queue whose last one says "violations 0"; else prints why not.
no_violations() {
	local q v why=''
	for ((q = 0; q < QUEUES; q++)); do
		v=$(sed -n "s/^netcheck: queue $q .* violations \([0-9][0-9]*\)\$/\1/p" <<<"$1" | tail -n 1)
		if [ -z "$v" ]; then
			why="$why queue $q: no counters with a violations figure;"
		elif [ "$v" != 0 ]; then
			why="$why queue $q: violations $v ($(grep "^netcheck: queue $q " <<<"$1" | tail -n 1));"
		fi
	done
	[ -z "$why" ] && return 0
	echo "${why# }"
	return 1
}

# check_violations NAME: NAME passes if the counters printed last say "violations 0" on every
# queue. Called 3 s after traffic: the guest prints a change within 2 s.
check_violations() {
	local why
	if why=$(no_violations "$(queue_lines "$(cat "$log")")"); then
		xt_pass "$1 (violations 0 on $QUEUES queues)"
	else
		xt_fail "$1" "$why"
	fi
}

# Jumbo frames: 9000 bytes on the bridge and the vif, so ICMP of 8972 bytes crosses netfront
# as multi-slot (scatter-gather) frames both ways.
ip link set dev "$vif" mtu 9000 && ip link set dev xenbr0 mtu 9000 ||
	xt_info "could not set MTU 9000 on $vif/xenbr0"
for size in 56 1472 8972; do
	if out=$(busybox ping -c 5 -W 3 -s "$size" 10.0.0.2 2>&1); then
		xt_pass "ping -s $size from dom0 ($(echo "$out" | tail -1))"
	else
		xt_fail "ping -s $size from dom0" "$(echo "$out" | tail -2 | tr '\n' '|')"
	fi
done
xt_check "UDP echo of 32 datagrams over 8 flows from dom0" xenpeer udp -addr 10.0.0.2:7 -count 32 -size 1000 -flows 8

sleep 3 # the guest prints changed counters every 2 s
stats=$(queue_lines "$(cat "$log")" | tail -n $QUEUES)
echo "$stats" | sed 's/^/xen-test: info /'
busy() { # queue N had traffic: tx or rx packets > 0 in its last report
	echo "$stats" | awk -v q="queue $1" '$0 ~ "^netcheck: "q" " { for (i = 1; i <= NF; i++) if ($i == "pkts" && $(i-1) > 0) ok = 1 } END { exit !ok }'
}
bad=''
for ((q = 0; q < QUEUES; q++)); do
	busy $q || bad="$bad $q"
done
if [ -z "$bad" ]; then
	xt_pass "traffic on all $QUEUES queues"
else
	xt_fail "traffic on all $QUEUES queues" "none on queue$bad: $(echo "$stats" | tr '\n' '|')"
fi
check_violations "no protocol violations"

# xl network-detach, then network-attach: the driver closes its side, then connects to the new
# vif by itself and traffic passes again.
if xl network-detach "$name" 0 >/dev/null 2>&1 && xt_wait_console "$name" '^netcheck: link down' 30; then
	if xl network-attach "$name" mac=00:16:3e:5a:11:02 bridge=xenbr0 >/dev/null 2>&1 &&
		xt_wait_console "$name" '^netcheck: link up again' 60; then
		if out=$(busybox ping -c 5 -W 3 10.0.0.2 2>&1); then
			xt_pass "traffic after xl network-detach + network-attach ($(echo "$out" | tail -1))"
		else
			xt_fail "traffic after network-detach + network-attach" "$(echo "$out" | tail -2 | tr '\n' '|')"
		fi
	else
		xt_fail "network-attach" "no reconnect: $(tail -3 "$log" | tr '\n' '|')"
	fi
else
	xt_fail "network-detach" "the guest did not see its backend close: $(tail -3 "$log" | tr '\n' '|')"
fi
sleep 3 # the guest prints changed counters every 2 s
check_violations "no protocol violations after reconnect"

# xl shutdown: the guest prints its counters once more, changed or not, and powers off. A
# violation counted after the last frame it answered shows there.
from=$(wc -l <"$log")
if ! out=$(xl shutdown "$name" 2>&1); then
	xt_fail "netcheck powers off on xl shutdown" "xl shutdown: $(tail -n 1 <<<"$out") (domain: $(xt_shutdown_reason "$name"))"
else
	reason=$(xt_wait_shutdown "$name" 30)
	if [ "$reason" = poweroff ]; then
		xt_pass "netcheck powers off on xl shutdown"
	else
		xt_fail "netcheck powers off on xl shutdown" "reason '$reason': $(tail -n 3 "$log" | tr -d '\r' | tr '\n' '|')"
	fi
fi
final=$(queue_lines "$(tail -n +"$((from + 1))" "$log" | tr -d '\r' | sed -n '/^netcheck: shutdown request/,$p')")
if [ -z "$final" ]; then
	xt_fail "no protocol violations over the whole run" "no final counters after 'netcheck: shutdown request': $(tail -n 3 "$log" | tr -d '\r' | tr '\n' '|')"
elif why=$(no_violations "$final"); then
	xt_pass "no protocol violations over the whole run (final counters: violations 0 on $QUEUES queues)"
else
	xt_fail "no protocol violations over the whole run" "final counters: $why"
fi
xt_wait_gone "$name" 20 >/dev/null || xt_destroy "$name"
ip link set dev xenbr0 mtu 1500 # as found, for the suites after this one
sed 's/^/xen-test: info netcheck console: /' "$log" | tail -20
