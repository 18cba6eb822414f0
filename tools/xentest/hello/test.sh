#!/usr/bin/env bash
# Real-Xen checks of examples/hello: boot, hypercalls, XenStore, clock, idle, shutdown, panic.
# Run by tools/xentest/run.sh in the test dom0 (tools/xenimage), from a folder holding hello.elf
# and hello.cfg.
. /usr/lib/xentest/lib.sh

cfg=hello.cfg
mac=$(sed -n 's/.*mac=\([0-9a-f:]*\).*/\1/p' "$cfg")

# boot: a 32 MiB guest comes up and reports.
if ! xt_create "$cfg"; then
	xt_fail boot "xl create failed"
	exit 0
fi
name=$XT_NAME domid=$XT_DOMID
xt_info "created $name as domain $domid in ${XT_CREATE_SECONDS}s"
if xt_wait_console "$name" '^hello: ready' 60; then
	xt_pass "boot with memory=32"
else
	xt_fail "boot with memory=32" "no 'hello: ready' on the console: $(tail -3 "$(xt_console_log "$name")" | tr '\n' '|')"
fi
log=$(xt_console_log "$name")
sed 's/^/xen-test: info console: /' "$log"

line() { sed -n "s/^hello: $1 //p" "$log" | head -1 | tr -d '\r'; }

# The guest's XENVER_version must be the release the toolstack reports (and the image holds).
v=$(line "xen version")
want=$(xl info | awk -F' *: *' '$1 == "xen_major" { M = $2 } $1 == "xen_minor" { m = $2 } END { if (M != "") print M "." m }')
if [ -n "$want" ] && [[ $v == "$want" || $v == "$want".* ]]; then
	xt_pass "xen version by hypercall ($v, xl info says $want)"
else
	xt_fail "xen version by hypercall" "guest says '$v', xl info says '$want'"
fi

[ "$(line domid)" = "$domid" ] && xt_pass "domid from XenStore ($domid)" ||
	xt_fail "domid from XenStore" "guest says '$(line domid)', xl says $domid"
[ "$(line name)" = "$name" ] && xt_pass "name from XenStore" ||
	xt_fail "name from XenStore" "guest says '$(line name)', xl says $name"
[ "$(line mac)" = "$mac" ] && xt_pass "vif MAC from XenStore ($mac)" ||
	xt_fail "vif MAC from XenStore" "guest says '$(line mac)', config says $mac"

ms=$(line "slept 200ms measured" | sed 's/ms$//') # the best of five samples
if [ -n "$ms" ] && awk -v m="$ms" 'BEGIN { exit !(m >= 180 && m <= 220) }'; then
	xt_pass "200 ms sleep measured ${ms} ms"
else
	xt_fail "sleep accuracy" "200 ms sleep measured '${ms}' ms"
fi

wc=$(line wallclock)
now=$(date -u +%s)
then_=$(date -u -d "$wc" +%s 2>/dev/null || echo 0)
if [ $((now - then_)) -ge 0 ] && [ $((now - then_)) -le 120 ]; then
	xt_pass "wall clock from shared_info ($wc)"
else
	xt_fail "wall clock from shared_info" "guest says '$wc', dom0 says $(date -u -Is)"
fi

# The vif's XenStore layout exactly as libxl made it: test data for the simulated toolstack.
xenstore-ls -fp "/local/domain/$domid/device/vif" | sed 's/^/xen-test: info xenstore-ls: /'
xenstore-ls -fp "/local/domain/0/backend/vif/$domid" | sed 's/^/xen-test: info xenstore-ls: /'

# idle: the vCPU blocks; CPU time over 10 s stays small.
cpu() { xl list -l "$name" | sed -n 's/.*"cpu_time": \([0-9.]*\).*/\1/p' | head -1; }
t0=$(xl list "$name" | awk 'NR==2 { print $6 }')
sleep 10
t1=$(xl list "$name" | awk 'NR==2 { print $6 }')
if [ -n "$t0" ] && [ -n "$t1" ] && awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a <= 0.5) }'; then
	xt_pass "idle vCPU time over 10 s: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
else
	xt_fail "idle vCPU time" "cpu time went from '$t0' to '$t1' s in 10 s"
fi

# xl shutdown: acknowledged through control/shutdown; the guest has shut down within 5 s (the
# toolstack's teardown of the vif afterwards is timed separately: it is slow under TCG).
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
start=$(date +%s.%N)
if xl shutdown "$name" >/dev/null 2>&1; then
	reason=$(xt_wait_shutdown "$name" 5)
	took=$(elapsed "$start")
	if [ "$reason" = poweroff ] && grep -q '^hello: shutdown request poweroff' "$log"; then
		xt_pass "xl shutdown: guest powered off in ${took} s"
	else
		xt_fail "xl shutdown" "reason '$reason' after ${took} s: $(tail -2 "$log" | tr '\n' '|')"
	fi
	if xt_wait_gone "$name" 30; then
		xt_info "domain torn down $(elapsed "$start") s after xl shutdown"
	else
		xt_fail "xl shutdown teardown" "domain still listed 30 s later"
		xt_destroy "$name"
	fi
else
	xt_fail "xl shutdown" "xl shutdown refused"
	xt_destroy "$name"
fi

# memory = 1024: the layout comes from the start info memory map.
if xt_create "$cfg" memory=1024 'name="tamaxen-hello-1g"' 'extra="timeout=1s"'; then
	if xt_wait_console tamaxen-hello-1g '^hello: ready' 60 &&
		grep -q '^hello: memory 1024 MiB' "$(xt_console_log tamaxen-hello-1g)"; then
		xt_pass "boot with memory=1024"
	else
		xt_fail "boot with memory=1024" "$(tail -3 "$(xt_console_log tamaxen-hello-1g)" | tr '\n' '|')"
	fi
	r=$(xt_wait_shutdown tamaxen-hello-1g 30)
	[ "$r" = poweroff ] && xt_pass "timeout= on the command line powers off" ||
		xt_fail "timeout= on the command line" "shutdown reason '$r'"
	xt_destroy tamaxen-hello-1g
else
	xt_fail "boot with memory=1024" "xl create failed"
fi

# xl reboot on a 64 MiB guest: the request arrives as "reboot" and ends in SHUTDOWN_reboot.
if xt_create "$cfg" memory=64 'name="tamaxen-hello-64"' 'on_reboot="destroy"'; then
	if xt_wait_console tamaxen-hello-64 '^hello: ready' 60; then
		xt_pass "boot with memory=64"
		xl reboot tamaxen-hello-64 >/dev/null 2>&1
		r=$(xt_wait_shutdown tamaxen-hello-64 10)
		[ "$r" = reboot ] && grep -q '^hello: shutdown request reboot' "$(xt_console_log tamaxen-hello-64)" &&
			xt_pass "xl reboot honoured" || xt_fail "xl reboot" "shutdown reason '$r'"
	else
		xt_fail "boot with memory=64" "$(tail -3 "$(xt_console_log tamaxen-hello-64)" | tr '\n' '|')"
	fi
	xt_destroy tamaxen-hello-64
else
	xt_fail "boot with memory=64" "xl create failed"
fi

# A deliberate panic reaches the console and crashes the domain.
if XT_SETTLE=0 xt_create "$cfg" 'name="tamaxen-hello-panic"' 'extra="panic=1"'; then
	r=$(xt_wait_shutdown tamaxen-hello-panic 60)
	plog=$(xt_console_log tamaxen-hello-panic)
	if [ "$r" = crash ] && grep -q 'panic: hello: deliberate panic' "$plog"; then
		xt_pass "panic reaches the console and crashes the domain"
	else
		xt_fail "panic" "reason '$r', console: $(tail -3 "$plog" | tr '\n' '|')"
	fi
	xt_destroy tamaxen-hello-panic
else
	xt_fail "panic" "xl create failed"
fi

