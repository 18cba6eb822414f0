#!/usr/bin/env bash
# check.sh — host-side check of `make xen-run`: start it, wait until it says the guest serves,
# fetch / and /healthz through the forwarded port, then stop it (and QEMU with it).
#
# Usage: tools/xentest/xen-run/check.sh [COMMAND...]   (default: make xen-run)
# Environment: XEN_RUN_PORT (8080), XEN_RUN_CHECK_TIMEOUT (seconds to wait for the guest, 600),
# XEN_RUN_CHECK_EXPECT (start of the body of /, "hello from tamaxen").
# Prints "xen-run-check: PASS ..." or "xen-run-check: FAIL ..." lines; exits 0 only if all pass.
# The output of xen-run goes to build/xen-run-check.out.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
port=${XEN_RUN_PORT:-8080}
limit=${XEN_RUN_CHECK_TIMEOUT:-600}
expect=${XEN_RUN_CHECK_EXPECT:-hello from tamaxen}
[ $# -gt 0 ] || set -- make --no-print-directory -C "$repo" xen-run "XEN_RUN_PORT=$port"
out=$repo/build/xen-run-check.out
mkdir -p "$repo/build"

# Job control puts the command in a process group of its own (id $pid), so that stopping it
# reaches make, run.sh and QEMU alike.
set -m
"$@" </dev/null >"$out" 2>&1 &
pid=$!
set +m
stop() {
	kill -TERM -- "-$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM

failed=0
pass() { echo "xen-run-check: PASS $*"; }
fail() {
	echo "xen-run-check: FAIL $*"
	failed=$((failed + 1))
}

start=$SECONDS
until grep -q 'open http://' "$out"; do
	if ! kill -0 "$pid" 2>/dev/null; then
		fail "xen-run ended before the guest was ready: $(tail -n 5 "$out" | tr '\n' '|')"
		exit 1
	fi
	if [ $((SECONDS - start)) -ge "$limit" ]; then
		fail "no 'open http://' line from xen-run within ${limit}s: $(tail -n 5 "$out" | tr '\n' '|')"
		exit 1
	fi
	sleep 1
done
echo "xen-run-check: info $(grep -m1 -o 'open http://.*' "$out") after $((SECONDS - start))s"

url=http://127.0.0.1:$port
if body=$(curl -fsS --max-time 60 "$url/" 2>&1) && [[ $body == "$expect"* ]]; then
	pass "GET $url/ from the host: $(head -n 1 <<<"$body")"
else
	fail "GET $url/ from the host: $(head -n 3 <<<"$body" | tr '\n' '|')"
fi
if body=$(curl -fsS --max-time 60 "$url/healthz" 2>&1) && [ "$(tr -d '[:space:]' <<<"$body")" = ok ]; then
	pass "GET $url/healthz from the host"
else
	fail "GET $url/healthz from the host: $(head -n 3 <<<"$body" | tr '\n' '|')"
fi
stop
trap - EXIT
echo "xen-run-check: xen-run stopped after $((SECONDS - start))s"
[ "$failed" -eq 0 ]
