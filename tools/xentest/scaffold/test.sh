#!/usr/bin/env bash
# Real-Xen checks of a module of one's own (tools/xentest/scaffold/build.sh made it on the host
# with tamaxen new, tamaxen build and tamaxen xl): tamaxen new's main.go answers GET / from
# dom0 at the address tamaxen xl wrote into its config, and a program that imports no board
# boots with the one tamaxen build supplied, prints its line and powers off. Run by
# tools/xentest/run.sh in the test dom0 (tools/xenimage), from a folder holding scaffold.elf,
# scaffold.cfg, plain.elf and plain.cfg; needs curl.
. /usr/lib/xentest/lib.sh

# The config is tamaxen xl's as it stands: name, MAC and address come from it.
cfg=scaffold.cfg
ip=$(sed -n 's/^extra = ".*ip=\([0-9.]*\).*/\1/p' "$cfg")
xt_info "tamaxen xl wrote: $(grep -v '^#' "$cfg" | tr '\n' ' ')"
if ! xt_create "$cfg"; then
	xt_fail "scaffold boot" "xl create $cfg failed"
else
	name=$XT_NAME
	log=$(xt_console_log "$name")
	if xt_wait_console "$name" '^scaffold: ready' 120; then
		xt_pass "scaffold ready: $(grep -m1 '^scaffold: ready' "$log" | tr -d '\r')"
		body=$(curl -sS --fail --max-time 60 "http://$ip/" 2>&1)
		if [ "$body" = "hello from scaffold (Xen PVH)" ]; then
			xt_pass "GET http://$ip/ from dom0, served by tamaxen new's main.go: $body"
		else
			xt_fail "GET http://$ip/ from dom0" "$(head -n 2 <<<"$body" | tr '\n' '|')"
		fi
	else
		xt_fail "scaffold ready" "no 'scaffold: ready' on the console: $(tail -n 4 "$log" | tr '\n' '|')"
	fi
	sed 's/^/xen-test: info scaffold console: /' "$log" | tail -n 20
	xt_destroy "$name"
fi

# The program without a board import: it runs and ends, powering the domain off.
cfg=plain.cfg
if ! xt_create "$cfg"; then
	xt_fail "plain boot" "xl create $cfg failed"
	exit 0
fi
name=$XT_NAME
if xt_wait_console "$name" '^plain: hello' 60; then
	xt_pass "a program without a board import boots with the board tamaxen build supplied"
else
	xt_fail "plain boot" "no 'plain: hello' on the console: $(tail -n 4 "$(xt_console_log "$name")" | tr '\n' '|')"
fi
reason=$(xt_wait_shutdown "$name" 60)
if [ "$reason" = poweroff ]; then
	xt_pass "plain powers off when main returns"
else
	xt_fail "plain powers off when main returns" "shutdown reason '$reason'"
fi
xt_destroy "$name"
