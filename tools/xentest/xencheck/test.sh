#!/usr/bin/env bash
# Real-Xen checks of the core services (examples/xencheck) against dom0: a grant dom0 maps, an
# event channel dom0 ping-pongs 100 notifications on, concurrent XenStore transactions, a watch.
. /usr/lib/xentest/lib.sh

if ! xt_create xencheck.cfg; then
	xt_fail "xencheck boot" "xl create failed"
	exit 0
fi
name=$XT_NAME domid=$XT_DOMID
log=$(xt_console_log "$name")
home=/local/domain/$domid/data/xencheck

if ! xt_wait_console "$name" '^xencheck: ready' 60; then
	xt_fail "xencheck boot" "no 'xencheck: ready': $(tail -3 "$log" | tr '\n' '|')"
	xt_destroy "$name"
	exit 0
fi
gref=$(xenstore-read "$home/gref")
port=$(xenstore-read "$home/port")
seqref=$(xenstore-read "$home/seqref")
xt_info "guest $domid granted ref $gref, unbound port $port"

xt_check "grant: dom0 maps the guest's page and reads the pattern" \
	xenpeer grant -domid "$domid" -ref "$gref" -prefix "tamaxen grant pattern"
xt_check "evtchn: 100 notifications from dom0, each seen in order and acked" \
	xenpeer evtchn -domid "$domid" -port "$port" -seqref "$seqref" -count 100

if xt_wait_console "$name" '^xencheck: transactions' 300; then
	t=$(sed -n 's/^xencheck: transactions //p' "$log" | tr -d '\r')
	retried=$(echo "$t" | sed -n 's/.*(\([0-9]*\) retried).*/\1/p')
	case "$t" in
	*"counter 100,"*)
		if [ -z "$retried" ]; then
			xt_fail "xenstore transactions" "no '(N retried)' figure: $t"
		elif [ "$retried" -gt 0 ]; then
			xt_pass "xenstore: 100 transactions from 10 goroutines, conflicts retried ($t)"
		else
			xt_fail "xenstore transactions" "no conflict happened, nothing was retried: $t"
		fi ;;
	*) xt_fail "xenstore transactions" "$t" ;;
	esac
else
	xt_fail "xenstore transactions" "$(tail -2 "$log" | tr '\n' '|')"
fi

xenstore-write "$home/ping" from-dom0
if xt_wait_console "$name" '^xencheck: watch fired with "from-dom0"' 30; then
	xt_pass "xenstore: watch event from dom0's xenstore-write"
else
	xt_fail "xenstore watch" "$(tail -2 "$log" | tr '\n' '|')"
fi

r=$(xt_wait_shutdown "$name" 30)
if [ "$r" = poweroff ] && grep -q '^xencheck: grant .* revoked, grant .* revoked' "$log"; then
	xt_pass "grant revoked after dom0 unmapped it; guest powered off"
else
	xt_fail "xencheck end" "reason '$r': $(tail -3 "$log" | tr '\n' '|')"
fi
sed 's/^/xen-test: info xencheck console: /' "$log"
xt_destroy "$name"
