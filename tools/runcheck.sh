#!/usr/bin/env bash
# Checks make run from outside: builds examples/httpd for the host, starts it, and requires
# http://127.0.0.1:8080/ to answer within 10 s of the start and /metrics to show netfront
# counters above zero. The build is not timed (a fresh machine downloads modules first).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$out"' EXIT
${GO:-go} build -o "$out/httpd" ./examples/httpd
start=$(date +%s.%N)
"$out/httpd" >"$out/log" 2>&1 &
pid=$!
ok=
for _ in $(seq 100); do
	if curl -fsS -m 2 http://127.0.0.1:8080/ >"$out/body" 2>/dev/null; then
		ok=1
		break
	fi
	sleep 0.1
done
took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
if [ -z "$ok" ]; then
	echo "run-check: FAIL: no answer from http://127.0.0.1:8080/ within 10 s"
	cat "$out/log"
	exit 1
fi
echo "run-check: / answered $(cat "$out/body" | head -c 80) after ${took}s"
curl -fsS -m 5 -o /dev/null "http://127.0.0.1:8080/download?bytes=1048576"
tx=$(curl -fsS -m 5 http://127.0.0.1:8080/metrics | awk '/^tamaxen_netfront_packets_total\{.*dir="tx"\}/ { s += $2 } END { print s + 0 }')
rx=$(curl -fsS -m 5 http://127.0.0.1:8080/metrics | awk '/^tamaxen_netfront_packets_total\{.*dir="rx"\}/ { s += $2 } END { print s + 0 }')
if [ "$tx" -gt 0 ] && [ "$rx" -gt 0 ]; then
	echo "run-check: /metrics: netfront tx packets $tx, rx packets $rx"
else
	echo "run-check: FAIL: netfront counters did not move (tx $tx, rx $rx)"
	exit 1
fi
