#!/usr/bin/env bash
# Real-Xen checks of netfront (examples/netcheck) against Linux netback: negotiated features,
# ARP and ICMP from dom0 at several sizes, UDP echo, traffic on every queue.
. /usr/lib/xentest/lib.sh

# Netback offers as many queues as dom0 has vCPUs (one here) unless told otherwise.
echo 2 > /sys/module/xen_netback/parameters/max_queues 2>/dev/null ||
	xt_info "cannot raise xen_netback max_queues"

if ! xt_create netcheck.cfg 'extra="ip=10.0.0.2 queues=2 timeout=300s"'; then
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
xt_pass "netfront connects to netback ($(sed -n 's/^netcheck: connected .* in //p' "$log"))"
feat=$(sed -n 's/^netcheck: features //p' "$log" | tr -d '\r')
xt_info "negotiated: $feat"
for f in rx-copy=true sg=true gso-tcpv4=true gso-tcpv6=true split-evtchn=true queues=2; do
	case " $feat " in
	*" $f "*) xt_pass "negotiated $f with Linux netback" ;;
	*) xt_fail "negotiated $f" "features: $feat" ;;
	esac
done
vif=$(ls /sys/class/net | grep "^vif$domid\." | head -1)
xt_info "backend vif $vif: $(cat /sys/class/net/$vif/operstate 2>/dev/null)"

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

sleep 3 # the guest reports its counters every 2 s
stats=$(grep '^netcheck: queue' "$log" | tail -2)
echo "$stats" | sed 's/^/xen-test: info /'
busy() { # queue N had traffic: tx or rx packets > 0 in its last report
	echo "$stats" | awk -v q="queue $1" '$0 ~ "^netcheck: "q" " { for (i = 1; i <= NF; i++) if ($i == "pkts" && $(i-1) > 0) ok = 1 } END { exit !ok }'
}
if busy 0 && busy 1; then
	xt_pass "traffic on both queues"
else
	xt_fail "traffic on both queues" "$(echo "$stats" | tr '\n' '|')"
fi
if grep -q 'violations [1-9]' "$log"; then
	xt_fail "no protocol violations" "$(grep -m1 'violations [1-9]' "$log")"
fi

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
if grep -q 'violations [1-9]' "$log"; then
	xt_fail "no protocol violations after reconnect" "$(grep -m1 'violations [1-9]' "$log")"
fi

xl shutdown "$name" >/dev/null 2>&1 || true
xt_wait_gone "$name" 20 >/dev/null || xt_destroy "$name"
ip link set dev xenbr0 mtu 1500 # as found, for the suites after this one
sed 's/^/xen-test: info netcheck console: /' "$log" | tail -20
