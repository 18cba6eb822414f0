#!/usr/bin/env bash
# report.sh — turn the output of a `make xen-bench` run into bench/results.md (Markdown on stdout).
#
# Usage: tools/xenbench/report.sh RUN_OUTPUT [COMMAND]
# RUN_OUTPUT is what tools/xenimage/run.sh printed for the tools/xenbench payload: the
# "xen-test: info bench GUEST KEY VALUE..." lines of test.sh. COMMAND is the command to cite
# (default "make xen-bench"). The machine is described from this host (/proc/cpuinfo, nproc,
# QEMU's version); Xen's and the kernel's versions come from dom0's lines.
set -euo pipefail

in=${1:?usage: report.sh RUN_OUTPUT [COMMAND]}
cmd=${2:-make xen-bench}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

declare -A v
while IFS= read -r line; do
	line=${line%$'\r'}
	[[ $line == "xen-test: info bench "* ]] || continue
	rest=${line#xen-test: info bench }
	guest=${rest%% *} rest=${rest#* }
	key=${rest%% *} val=${rest#* }
	[ "$key" = "$rest" ] && val=
	v[$guest.$key]=$val
done <"$in"

get() { printf '%s' "${v[$1]:-n/a}"; }
# kv GUEST.KEY NAME prints NAME's value in a "k=v k=v" line, or nothing.
kv() { tr ' ' '\n' <<<"${v[$1]:-}" | sed -n "s/^$2=//p"; }
# ratio A B prints A/B to two decimals, or n/a.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 == a && b + 0 == b && b != 0) printf "%.2f", a / b; else printf "n/a" }'
}
# div A B [FMT] prints A/B, or n/a.
div() {
	awk -v a="$1" -v b="$2" -v f="${3:-%.0f}" 'BEGIN { if (a != "" && b != "" && b + 0 != 0) printf f, a / b; else printf "n/a" }'
}
# or_na VALUE prints VALUE, or n/a when empty.
or_na() { printf '%s' "${1:-n/a}"; }

mib=$(awk -v b="$(kv env.params bytes)" 'BEGIN { if (b) printf "%d", b / 1048576; else printf "?" }')
runs=$(kv env.params runs)
membytes=$(awk -v b="$(kv env.params mem_bytes)" 'BEGIN { if (b) printf "%d", b / 1048576; else printf "?" }')
mems=$(kv env.params mems | tr ',' ' ')
cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)
qemu=$(qemu-system-x86_64 --version 2>/dev/null | head -n 1 | sed 's/^QEMU emulator version //')
tree=$(git -C "$here" describe --always --dirty 2>/dev/null || echo unknown)

# tries GUEST prints the memory sizes (d) tried, "M:ok" or "M:no(why)", with consecutive sizes
# that failed alike grouped: the page counts in libxl's complaint are left out.
tries() {
	get "$1.minmem_tries" | sed -E 's/ ([0-9]+:(ok|no\())/\n\1/g; s/ \(0x[0-9a-f]+ > [^)]*pages\)//g' |
		awk -F: '{ m = $1; r = substr($0, length(m) + 2)
			if (NR > 1 && r == last) { ms = ms ", " m; next }
			if (NR > 1) out = out (out == "" ? "" : "; ") ms ": " last
			ms = m; last = r }
			END { if (NR) out = out (out == "" ? "" : "; ") ms ": " last; printf "%s", out }'
}

row() { # row LABEL U L
	printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"
}
minmem() { # minmem GUEST prints the smallest memory, or "none of LIST"
	local m=${v[$1.minmem_mib]:-}
	if [ "$m" = none ]; then printf '> %s' "${mems##* }"; else or_na "$m"; fi
}

cat <<EOF
# Benchmark: tamaxen unikernel vs Linux PVH domU on Xen

$(date -u +%Y-%m-%d). The unikernel (\`examples/httpd\`, \`build/httpd.elf\`) and a Linux PVH
domU booted from the test image's own Debian kernel, one at a time, on the same Xen, as seen
from dom0 over \`xenbr0\`. Regenerate with:

\`\`\`sh
$cmd
\`\`\`

| | unikernel | Linux | unikernel/Linux |
| --- | ---: | ---: | ---: |
$(row "(a) \`xl create\` to first answered ping (s, lower is better)" "$(get unikernel.ping_s)" "$(get linux.ping_s)")
$(row "(b) \`xl create\` to first HTTP answer (s, lower is better)" "$(get unikernel.http_s)" "$(get linux.http_s)")
$(row "(c) download $mib MiB, dom0 ← guest (MiB/s, median of $runs runs, higher is better)" "$(get unikernel.download_mibs)" "$(get linux.download_mibs)")
$(row "(c) upload $mib MiB, dom0 → guest (MiB/s, median of $runs runs, higher is better)" "$(get unikernel.upload_mibs)" "$(get linux.upload_mibs)")
$(row "(d) smallest \`memory =\` serving a download of $membytes MiB (MiB, lower is better)" "$(minmem unikernel)" "$(minmem linux)")
$(row "(e) image size (bytes, lower is better)" "$(get unikernel.size_bytes)" "$(get linux.size_bytes)")
| \`xl create\` itself, included in (a) and (b) (s) | $(get unikernel.create_s) | $(get linux.create_s) | $(ratio "$(get unikernel.create_s)" "$(get linux.create_s)") |

- (c), every run in MiB/s: unikernel download $(get unikernel.download_runs), upload
  $(get unikernel.upload_runs); Linux download $(get linux.download_runs), upload $(get linux.upload_runs).
- (d), unikernel: $(tries unikernel).
- (d), Linux: $(tries linux).
- (e): unikernel $(get unikernel.size_detail); Linux $(get linux.size_detail).

## Machine

- QEMU ${qemu:-?}
  with TCG (no KVM) and one vCPU (\`-smp 1\`) that Xen, dom0 and the guest share, on a host
  with $(nproc) cores of $(or_na "$cpu")
- Xen $(get env.xen) (Debian 12), dom0 and Linux domU kernel $(get env.kernel) (Debian 12);
  dom0 has 1024 MiB and one vCPU; both guests have one vCPU
- tree $tree; the run took $(get host.seconds) s (tools/xenimage/run.sh, QEMU included); the host's
  1-minute load average was $(get host.load | sed 's/ / at the start and /') at the end

Under TCG every instruction is emulated, so the absolute numbers are one to two orders of
magnitude below real hardware, and they are noisy: other work on the host stretches them, and
single transfers of the same run differ by up to 2x (every run is listed under the table).
Boot times, memory and size differ between the guests by far more than that noise; the
throughput ratios do not, so read them across several runs.

## Method

\`tools/xenbench/test.sh\` runs in dom0 (payload laid out by \`make xen-bench\` under
\`build/bench-payload\`, booted by \`tools/xenimage/run.sh --linux-domu\`), and
\`tools/xenbench/report.sh\` writes this file.

- **Guests.** Unikernel: \`examples/httpd/httpd.cfg\` (memory $(get unikernel.memory_mib) MiB) with
  \`extra="ip=10.0.0.2/24 gw=10.0.0.1 stats=5s"\` (\`stats=\` only in the throughput boot).
  Linux: the image's \`vmlinux\` (the dom0 kernel, unchanged) with memory $(get linux.memory_mib) MiB
  (room for the $mib MiB file) and a busybox initramfs (\`tools/xenbench/linux-init\`): insmod
  xen-netfront, 10.0.0.2/24, \`busybox httpd\` serving from a tmpfs. Both: \`type = "pvh"\`,
  one vCPU, a vif on \`xenbr0\`, IPv4 address 10.0.0.2 (dom0's neighbour cache is flushed
  before each \`xl create\`).
- **(a), (b)** From the start of \`xl create\` (so including the toolstack and the vif hotplug)
  dom0 loops \`busybox ping -c1 -W1 10.0.0.2\` until one is answered, then \`curl /\` until it
  answers, 0.2 s apart (the loops share dom0's vCPU with the booting guest). One boot each;
  resolution about 1 s (ARP retries every second while the guest is not up).
- **(c) download** \`curl -o /dev/null\` of $mib MiB: the unikernel's
  \`/download?bytes=N\` (a deterministic stream generated as it is sent), Linux's \`/download\`,
  a file of zeros written into the tmpfs at boot (busybox httpd, page cache). Status and length
  are checked; the rate is curl's (bytes over the whole transfer). Median of $runs runs.
- **(c) upload** The same $mib MiB (xenpeer's pattern) from dom0 to the guest, which hashes
  what it receives with SHA-256 and answers the hash; dom0 checks it. Unikernel: a POST to
  \`/upload\` with \`curl --data-binary @file\` (Go's net/http and crypto/sha256; the answer
  also gives the length). Linux: plain TCP to \`busybox nc -l -p 5001 -e sha256sum\`, so the
  hash reads the socket directly, sent by \`socat -b 65536\` with a half-close at the end. Not
  a busybox httpd CGI: busybox httpd relays a POST body to the CGI 1 KiB at a time through a
  pipe (0.22 MiB/s in a trial run), which would measure busybox, not Linux. Linux is spared
  the HTTP request parsing, which is noise next to $mib MiB. Rate = bytes over the time from
  the start to the answer. Median of $runs runs.
- **(d)** \`xl create … memory=M\` for M in $mems, stopping at the first that answers ping and
  HTTP and serves a download of $membytes MiB (for Linux a file of that size in its tmpfs).
- **(e)** What the toolstack loads: the unikernel's stripped ELF; the kernel ELF plus the
  uncompressed initramfs for Linux (the bzImage Debian ships is smaller, but a PVH domU is
  booted from the uncompressed ELF).

## Counters (part 3: where the unikernel's time goes)

Totals over the $runs downloads, then over the $runs uploads. "vif" is dom0's view of the
guest's vif: rx = frames from the guest. The unikernel's counters are deltas of its \`/metrics\`; Linux's of
\`/proc/net/snmp\` and \`/proc/net/dev\` (eth0 counts GSO frames, TCP OutSegs MSS segments).

| download | unikernel | Linux |
| --- | ---: | ---: |
| frames guest → dom0 (vif rx_packets) | $(kv unikernel.dom0_download vif_rx_packets) | $(kv linux.dom0_download vif_rx_packets) |
| mean bytes per frame guest → dom0 | $(div "$(kv unikernel.dom0_download vif_rx_bytes)" "$(kv unikernel.dom0_download vif_rx_packets)") | $(div "$(kv linux.dom0_download vif_rx_bytes)" "$(kv linux.dom0_download vif_rx_packets)") |
| frames dom0 → guest (ACKs, vif tx_packets) | $(kv unikernel.dom0_download vif_tx_packets) | $(kv linux.dom0_download vif_tx_packets) |
| guest TSO frames sent | $(or_na "$(kv unikernel.counters_download tamaxen_netfront_gso_packets_total_tx)") | n/a |
| mean TSO frame (bytes) | $(div "$(kv unikernel.counters_download tamaxen_netstack_tx_gso_bytes_total)" "$(kv unikernel.counters_download tamaxen_netstack_tx_gso_total)") | $(div "$(kv linux.counters_download eth0_tx_bytes)" "$(kv linux.counters_download eth0_tx_packets)") (all frames) |
| guest TX checksum offloaded / in software | $(or_na "$(kv unikernel.counters_download tamaxen_netstack_tx_csum_offload_total)") / $(or_na "$(kv unikernel.counters_download tamaxen_netstack_tx_csum_software_total)") | n/a |
| guest TCP segments sent (MSS-sized) | n/a | $(or_na "$(kv linux.counters_download tcp_OutSegs)") |
| guest TCP retransmits | $(or_na "$(kv unikernel.counters_download tamaxen_tcp_retransmits_total)") | $(or_na "$(kv linux.counters_download tcp_RetransSegs)") |
| guest TX completions found by polling | $(or_na "$(kv unikernel.counters_download tamaxen_netfront_tx_polled_total)") | n/a |
| guest TX frames dropped | $(or_na "$(kv unikernel.counters_download tamaxen_netfront_dropped_total_tx)") | n/a |
| dom0 TCP retransmits | $(or_na "$(kv unikernel.dom0_download dom0_tcp_RetransSegs)") | $(or_na "$(kv linux.dom0_download dom0_tcp_RetransSegs)") |

| upload | unikernel | Linux |
| --- | ---: | ---: |
| frames dom0 → guest (vif tx_packets) | $(kv unikernel.dom0_upload vif_tx_packets) | $(kv linux.dom0_upload vif_tx_packets) |
| mean bytes per frame dom0 → guest | $(div "$(kv unikernel.dom0_upload vif_tx_bytes)" "$(kv unikernel.dom0_upload vif_tx_packets)") | $(div "$(kv linux.dom0_upload vif_tx_bytes)" "$(kv linux.dom0_upload vif_tx_packets)") |
| frames guest → dom0 (ACKs, vif rx_packets) | $(kv unikernel.dom0_upload vif_rx_packets) | $(kv linux.dom0_upload vif_rx_packets) |
| guest GSO frames received | $(or_na "$(kv unikernel.counters_upload tamaxen_netfront_gso_packets_total_rx)") | n/a |
| guest frames received with checksum validated by the backend / blank | $(or_na "$(kv unikernel.counters_upload tamaxen_netstack_rx_validated_total)") / $(or_na "$(kv unikernel.counters_upload tamaxen_netfront_rx_csum_blank_total)") | n/a |
| guest RX frames dropped | $(or_na "$(kv unikernel.counters_upload tamaxen_netfront_dropped_total_rx)") | n/a |
| dom0 TCP retransmits | $(or_na "$(kv unikernel.dom0_upload dom0_tcp_RetransSegs)") | $(or_na "$(kv linux.dom0_upload dom0_tcp_RetransSegs)") |

The unikernel's console (\`stats=5s\`), the first line after the downloads:

\`\`\`
$(get unikernel.stats_line)
\`\`\`

Raw deltas:

\`\`\`
unikernel download: $(get unikernel.counters_download)
unikernel upload:   $(get unikernel.counters_upload)
linux download:     $(get linux.counters_download)
linux upload:       $(get linux.counters_upload)
dom0, unikernel download: $(get unikernel.dom0_download)
dom0, unikernel upload:   $(get unikernel.dom0_upload)
dom0, linux download:     $(get linux.dom0_download)
dom0, linux upload:       $(get linux.dom0_upload)
\`\`\`
EOF
