#!/usr/bin/env bash
# Real-Xen checks of examples/echo: TCP and UDP echo on port 7, byte for byte, from dom0 with
# xenpeer: parallel connections of many small messages, one 64 KiB message, UDP over several
# flows. Run by tools/xentest/run.sh in the test dom0 (tools/xenimage) from a folder holding
# echo.elf and echo.cfg.
. /usr/lib/xentest/lib.sh

cfg=echo.cfg
ip=$(sed -n 's/^[[:space:]]*extra[[:space:]]*=.*[" ]ip=\([0-9.]*\).*/\1/p' "$cfg" | head -n 1)
ip=${ip:-10.0.0.3}

if ! xt_create "$cfg"; then
	xt_fail "echo boot" "xl create failed"
	exit 0
fi
name=$XT_NAME
log=$(xt_console_log "$name")
trap 'xt_destroy "$name"; sed "s/^/xen-test: info echo console: /" "$log" | tail -n 20' EXIT
if ! xt_wait_console "$name" '^echo: ready' 120; then
	xt_fail "echo ready" "$(tail -n 4 "$log" | tr '\n' '|')"
	exit 0
fi
xt_pass "echo ready"

# peer NAME ARGS... passes NAME with xenpeer's summary, or fails it with xenpeer's complaint.
peer() {
	local name=$1 out
	shift
	if out=$(xenpeer "$@" 2>&1); then
		xt_pass "$name: $out"
	else
		xt_fail "$name" "$(tail -n 1 <<<"$out")"
	fi
}
peer "TCP echo, 4 connections" tcp -addr "$ip:7" -count 100 -size 1000 -conns 4
peer "TCP echo, one 64 KiB message" tcp -addr "$ip:7" -count 1 -size 65536 -conns 1
peer "UDP echo, 4 flows" udp -addr "$ip:7" -count 32 -size 1000 -flows 4
peer "UDP echo, 1472-byte datagrams" udp -addr "$ip:7" -count 8 -size 1472 -flows 1
