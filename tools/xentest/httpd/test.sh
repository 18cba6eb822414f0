#!/usr/bin/env bash
# Real-Xen checks of examples/httpd: net/http over the gVisor stack and netfront, from dom0:
# GET / and /healthz, a 64 MiB download checked by SHA-256 (with its throughput), offloads the
# guest used (TSO frames, checksum offload) read from /metrics, and ICMP echo over IPv4, IPv6
# and the guest's EUI-64 link-local address. Run by tools/xentest/run.sh in the test dom0
# (tools/xenimage) from a folder holding httpd.elf and httpd.cfg; needs xenpeer and curl.
. /usr/lib/xentest/lib.sh

cfg=httpd.cfg
# Addresses come from the config: mac=, and ip=/ip6= in its extra.
mac=$(sed -n 's/.*mac=\([0-9a-fA-F:]*\).*/\1/p' "$cfg" | head -n 1)
extra=$(sed -n 's/^[[:space:]]*extra[[:space:]]*=[[:space:]]*//p' "$cfg" | head -n 1)
ip=$(sed -n 's/.*[" ]ip=\([0-9.]*\).*/\1/p' <<<"$extra")
ip6=$(sed -n 's/.*[" ]ip6=\([0-9a-fA-F:]*\).*/\1/p' <<<"$extra")
ip=${ip:-10.0.0.2} ip6=${ip6:-fd00::2}

# eui64_linklocal MAC prints the fe80:: address a host derives from MAC (RFC 4291 appendix A).
eui64_linklocal() {
	local IFS=:
	# shellcheck disable=SC2086 # split on the colons
	set -- $1
	printf 'fe80::%x:%x:%x:%x\n' $(((0x$1 ^ 2) << 8 | 0x$2)) $((0x$3 << 8 | 0xff)) \
		$((0xfe << 8 | 0x$4)) $((0x$5 << 8 | 0x$6))
}
ll=$(eui64_linklocal "$mac")

# stats=: the guest prints its counters on the console every few seconds (shown at the end).
extra=$(sed -n 's/^extra *= *"\(.*\)"/\1/p' "$cfg")
if ! xt_create "$cfg" "extra=\"$extra stats=5s\""; then
	xt_fail "httpd boot" "xl create failed"
	exit 0
fi
name=$XT_NAME
log=$(xt_console_log "$name")
trap 'xt_destroy "$name"; sed "s/^/xen-test: info httpd console: /" "$log" | tail -n 40' EXIT
if ! xt_wait_console "$name" '^httpd: ready' 120; then
	xt_fail "httpd ready" "$(tail -n 4 "$log" | tr '\n' '|')"
	exit 0
fi
xt_pass "httpd ready: $(grep -m1 '^httpd: ready' "$log" | tr -d '\r')"
url=http://$ip

# get PATH fetches PATH from the guest: the body on stdout, curl's complaint on stderr.
get() { curl -sS --fail --max-time 60 "$url$1"; }

body=$(get / 2>&1)
if [[ $body == "hello from tamaxen"* ]]; then
	xt_pass "GET / from dom0: $(head -n 1 <<<"$body")"
else
	xt_fail "GET / from dom0" "$(head -n 2 <<<"$body" | tr '\n' '|')"
fi
body=$(get /healthz 2>&1)
if [ "$(tr -d '[:space:]' <<<"$body")" = ok ]; then
	xt_pass "GET /healthz from dom0"
else
	xt_fail "GET /healthz from dom0" "$(head -n 2 <<<"$body" | tr '\n' '|')"
fi

# The boot timeline: the guest's last timeline line (printed again, complete, once its first
# frame came in: the GETs above) names every stage, in order, each no earlier than the one
# before, and /metrics has the same figures as tamaxen_boot_milestone_seconds gauges.
stages="runtime xenstore netfront stack first-packet"
xt_wait_console "$name" '^tamaxen: boot timeline ms:.* first-packet=' 10 || true
timeline=$(grep '^tamaxen: boot timeline ms:' "$log" | tr -d '\r' | tail -n 1)
bad=$(awk -v stages="$stages" -v line="$timeline" 'BEGIN {
	n = split(stages, want, " ")
	if (sub(/^tamaxen: boot timeline ms: /, "", line) != 1) { print "no timeline line"; exit }
	m = split(line, f, " ")
	if (m != n) { print m " stages, want " n " (" stages ")"; exit }
	prev = -1
	for (i = 1; i <= n; i++) {
		if (split(f[i], kv, "=") != 2 || kv[1] != want[i] || kv[2] !~ /^[0-9]+\.[0-9]$/) {
			print "stage " i " is \"" f[i] "\", want " want[i] "=MS"; exit
		}
		if (kv[2] + 0 < prev) { print kv[1] " at " kv[2] " ms, before " want[i - 1] " at " prev " ms"; exit }
		prev = kv[2] + 0
	}
}')
if [ -z "$bad" ]; then
	xt_pass "boot timeline on the console, every stage in order: ${timeline#tamaxen: }"
else
	xt_fail "boot timeline on the console" "$bad: '$timeline'"
fi
tmetrics=$(get /metrics 2>&1)
bad=$(awk -v stages="$stages" -v line="$timeline" '
	match($0, /^tamaxen_boot_milestone_seconds[{]stage="[^"]*"[}] /) {
		s = $0; sub(/^[^"]*"/, "", s); sub(/".*/, "", s); gauge[s] = $NF
	}
	END {
		n = split(stages, want, " ")
		sub(/^tamaxen: boot timeline ms: /, "", line)
		split(line, f, " ")
		for (i = 1; i <= n; i++) {
			split(f[i], kv, "=")
			if (!(want[i] in gauge)) { print "no gauge for " want[i]; exit }
			d = gauge[want[i]] * 1000 - kv[2]
			if (d < -0.06 || d > 0.06) { print want[i] " is " gauge[want[i]] " s in /metrics, " kv[2] " ms on the console"; exit }
		}
	}' <<<"$tmetrics")
if [ -z "$bad" ]; then
	xt_pass "boot timeline in /metrics: tamaxen_boot_milestone_seconds for every stage, as on the console"
else
	xt_fail "boot timeline in /metrics" "$bad"
fi

# crypto/tls, unmodified, on the guest's stack: the example's self-signed certificate.
body=$(curl -sS --fail --max-time 120 -k -w ' %{ssl_verify_result} %{scheme}' "https://$ip/healthz" 2>&1)
if [[ $body == ok* ]]; then
	xt_pass "GET https://$ip/healthz from dom0 (TLS, self-signed)"
else
	xt_fail "GET https://$ip/healthz from dom0" "$(head -n 2 <<<"$body" | tr '\n' '|')"
fi

# A first MiB, to see the rate before the long transfer.
xt_info "1 MiB download: $(curl -sS --max-time 120 -o /dev/null -w '%{http_code} %{size_download} B at %{speed_download} B/s' "$url/download?bytes=1048576" 2>&1)"
xt_info "guest counters: $(tail -n 1 "$log" | tr -d '\r')"

# 64 MiB of the pattern stream: the same bytes as xenpeer makes, and the rate curl saw.
n=${HTTPD_DOWNLOAD:-$((64 << 20))}
want=$(xenpeer pattern -bytes $n | sha256sum | cut -d' ' -f1)
meta=/tmp/httpd-download.meta
got=$(
	set -o pipefail
	curl -sS --fail --max-time 600 -w '%{stderr}%{http_code} %{size_download} %{speed_download} %header{content-length}\n' \
		"$url/download?bytes=$n" 2>"$meta" | sha256sum | cut -d' ' -f1
)
rc=$?
read -r code size speed clen <<<"$(tail -n 1 "$meta")"
rate=$(awk -v s="$speed" 'BEGIN { printf "%.1f MiB/s", s / 1048576 }')
xt_info "download: status $code, $size bytes, Content-Length $clen, $rate"
if [ $rc -eq 0 ] && [ "$got" = "$want" ] && [ "$size" = $n ] && [ "$clen" = $n ]; then
	xt_pass "64 MiB download from the guest, SHA-256 matches ($rate)"
else
	xt_fail "64 MiB download" "curl status $rc ($(tr '\n' '|' <"$meta")), sha256 $got, want $want"
fi

# What the download made the guest do: netfront sent TSO frames, the stack left checksums to
# the backend. Counters are summed over queues; a counter missing from /metrics reads as
# nothing, not as 0, and fails its check.
metrics=$(get /metrics 2>&1)
sum() { awk -v re="$1" '$0 ~ re { s += $NF; n++ } END { if (n) printf "%d", s }' <<<"$metrics"; }
gso_tx=$(sum '^tamaxen_netfront_gso_packets_total[{].*dir="tx"')
pkts_tx=$(sum '^tamaxen_netfront_packets_total[{].*dir="tx"')
pkts_rx=$(sum '^tamaxen_netfront_packets_total[{].*dir="rx"')
csum_tx=$(sum '^tamaxen_netstack_tx_csum_offload_total( |[{])')
blank_rx=$(sum '^tamaxen_netfront_rx_csum_blank_total')
xt_info "metrics: packets tx $pkts_tx rx $pkts_rx, gso tx $gso_tx, tx csum offload $csum_tx, rx csum blank $blank_rx"
xt_info "features: $(grep '^tamaxen_netfront_feature' <<<"$metrics" | tr '\n' ' ')"
if [ -n "$gso_tx" ] && [ "$gso_tx" -gt 0 ]; then
	xt_pass "guest sent TSO frames: gso_packets_total{dir=\"tx\"} = $gso_tx"
else
	xt_fail "guest sent TSO frames" "gso_packets_total{dir=\"tx\"} sums to '$gso_tx': $(head -n 3 <<<"$metrics" | tr '\n' '|')"
fi
if [ -n "$csum_tx" ] && [ "$csum_tx" -gt 0 ]; then
	xt_pass "guest offloaded TX checksums: tx_csum_offload_total = $csum_tx"
else
	xt_fail "guest offloaded TX checksums" "tamaxen_netstack_tx_csum_offload_total is '$csum_tx'"
fi

# ping TARGET...: ICMP echo from dom0 (busybox ping; -6 for IPv6 targets).
for target in "$ip" "$ip6" "$ll%xenbr0"; do
	case $target in *:*) v=-6 ;; *) v=-4 ;; esac
	if out=$(busybox ping $v -c 3 -W 5 "$target" 2>&1); then
		xt_pass "ping $target from dom0 ($(tail -n 1 <<<"$out"))"
	else
		xt_fail "ping $target from dom0" "$(tail -n 2 <<<"$out" | tr '\n' '|')"
	fi
done
