#!/usr/bin/env bash
# dom0 side of `make xen-run`: boot one example and relay dom0's port 80 to it until stopped.
#
# The payload (laid out by mk/xen.mk) holds this script, the example's ELF and xl config, and
# xen-run.env with XEN_RUN_EXAMPLE (the example's name, whose console says "<name>: ready"),
# XEN_RUN_GUEST_PORT and XEN_RUN_URL (where the host reaches it). QEMU forwards that host port
# to dom0's port 80 on its user network (run.sh --hostfwd); socat relays it to the guest's
# address, taken from ip= in the config's extra. The guest's console is echoed as info lines.
# Nothing ends this but the guest going away (reported as a failure) or Ctrl-C on the host.
. /usr/lib/xentest/lib.sh
. ./xen-run.env

cfg=$XEN_RUN_EXAMPLE.cfg
ip=$(sed -n 's/^[[:space:]]*extra[[:space:]]*=.*[" ]ip=\([0-9.]*\).*/\1/p' "$cfg" | head -n 1)
[ -n "$ip" ] || { xt_fail xen-run "no ip= in the extra of $cfg"; xt_finish; exit; }

if ! xt_create "$cfg"; then
	xt_fail xen-run "xl create $cfg failed"
	xt_finish
	exit
fi
name=$XT_NAME
log=$(xt_console_log "$name")
if ! xt_wait_console "$name" "^$XEN_RUN_EXAMPLE: ready" 180; then
	xt_fail xen-run "no '$XEN_RUN_EXAMPLE: ready' on the console: $(tail -n 3 "$log" | tr '\n' '|')"
	xt_destroy "$name"
	xt_finish
	exit
fi
socat "TCP-LISTEN:80,fork,reuseaddr" "TCP:$ip:${XEN_RUN_GUEST_PORT:-80},connect-timeout=10" &
tail -n +1 -F "$log" 2>/dev/null | sed -u 's/^/xen-test: info console: /' &
sleep 1 # socat listening, the console so far printed
xt_info "$name (domain $XT_DOMID) serves on $ip:${XEN_RUN_GUEST_PORT:-80}, relayed by dom0"
xt_info "open $XEN_RUN_URL (Ctrl-C stops)"
while xt_domid "$name" >/dev/null; do
	sleep 2
done
xt_fail xen-run "$name went away: $(xt_shutdown_reason "$name")"
xt_finish
