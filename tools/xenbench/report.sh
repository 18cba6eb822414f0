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

bytes=$(kv env.params bytes)
mib=$(awk -v b="$bytes" 'BEGIN { if (b) printf "%d", b / 1048576; else printf "?" }')
runs=$(kv env.params runs)
hruns=$(kv env.params http_runs)
streams=$(kv env.params streams | tr ',' ' ')
membytes=$(awk -v b="$(kv env.params mem_bytes)" 'BEGIN { if (b) printf "%d", b / 1048576; else printf "?" }')
mems=$(kv env.params mems | tr ',' ' ')
cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)
qemu=$(qemu-system-x86_64 --version 2>/dev/null | head -n 1 | sed 's/^QEMU emulator version //')
# The tree bench.sh recorded when the run started; else this one's, now.
tree=${v[host.tree]:-}
if [ -z "$tree" ]; then
	tree=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [ -n "$(git -C "$here/../.." status --porcelain --untracked-files=no 2>/dev/null)" ]; then
		tree="$tree, dirty (uncommitted changes in the working tree)"
	fi
fi

# tries GUEST prints the memory sizes (d) tried, "M:ok" or "M:no(why)", with consecutive sizes
# that failed alike grouped: the page counts in libxl's complaint are left out.
tries() {
	[ -n "${v[$1.minmem_tries]:-}" ] || { printf 'not measured'; return; }
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
	if [ -z "$mems" ]; then printf 'not measured'; elif [ "$m" = none ]; then printf '> %s' "${mems##* }"; else or_na "$m"; fi
}
streamword() { if [ "$1" = 1 ]; then echo "1 stream"; else echo "$1 streams"; fi; }

# The headline rows: bulk both ways for each stream count, then HTTP, boot, memory, size.
bulk_table() {
	local k
	for k in $streams; do
		row "bulk download $mib MiB, dom0 ← guest, $(streamword "$k") (MiB/s, median of $runs)" \
			"$(get "unikernel.bulk_get_${k}_mibs")" "$(get "linux.bulk_get_${k}_mibs")"
	done
	for k in $streams; do
		row "bulk upload $mib MiB, dom0 → guest, $(streamword "$k") (MiB/s, median of $runs)" \
			"$(get "unikernel.bulk_put_${k}_mibs")" "$(get "linux.bulk_put_${k}_mibs")"
	done
}

# every_run prints the runs of every rate row.
every_run() {
	local k op g name
	for k in $streams; do
		for op in get put; do
			name=download
			[ $op = put ] && name=upload
			for g in unikernel linux; do
				printf -- '- bulk %s, %s, %s: %s MiB/s' "$name" "$(streamword "$k")" "$g" "$(get "$g.bulk_${op}_${k}_runs")"
				[ "$k" != 1 ] && printf '; per stream, run by run: %s' "$(get "$g.bulk_${op}_${k}_streams" | sed 's/ /; /g')"
				echo
			done
		done
	done
	for g in unikernel linux; do
		echo "- HTTP, $g: download $(get "$g.download_runs"), upload $(get "$g.upload_runs") MiB/s"
	done
}

# --- where the time goes: one column per guest and group (bulk_OP_K) -----------------------

# c GUEST GROUP KEY: a counter's delta over the group (guest's or dom0's).
c() {
	local x
	x=$(kv "$1.counters_$2" "$3")
	[ -n "$x" ] || x=$(kv "$1.dom0_$2" "$3")
	printf '%s' "$x"
}
# mibs GUEST GROUP: MiB moved in the group's runs that worked.
mibs() {
	local n
	n=$(wc -w <<<"${v[$1.${2}_runs]:-}")
	awk -v b="$bytes" -v n="$n" 'BEGIN { printf "%.3f", b * n / 1048576 }'
}
# share GUEST GROUP CLASS: percent of the CPU time in CLASS (unikernel: Go's cpu classes;
# Linux: /proc/stat, user = user+nice, system, softirq = softirq+irq, idle = idle+iowait).
share() {
	local g=$1 grp=$2 cl=$3 part total
	if [ "$g" = unikernel ]; then
		total=$(c "$g" "$grp" go_cpu_classes_seconds_total_total)
		case $cl in
		user) part=$(c "$g" "$grp" go_cpu_classes_seconds_total_user) ;;
		gc) part=$(awk -v a="$(c "$g" "$grp" go_cpu_classes_seconds_total_gc)" -v b="$(c "$g" "$grp" go_cpu_classes_seconds_total_scavenge)" 'BEGIN { print a + b }') ;;
		idle) part=$(c "$g" "$grp" go_cpu_classes_seconds_total_idle) ;;
		*) part= ;;
		esac
	else
		total=$(awk -v s="${v[$g.counters_$grp]:-}" 'BEGIN { n = split(s, f, " "); for (i = 1; i <= n; i++) if (f[i] ~ /^cpu_/) { split(f[i], kv, "="); t += kv[2] }; print t }')
		case $cl in
		user) part=$(awk -v a="$(c "$g" "$grp" cpu_user)" -v b="$(c "$g" "$grp" cpu_nice)" 'BEGIN { print a + b }') ;;
		system) part=$(c "$g" "$grp" cpu_system) ;;
		softirq) part=$(awk -v a="$(c "$g" "$grp" cpu_softirq)" -v b="$(c "$g" "$grp" cpu_irq)" 'BEGIN { print a + b }') ;;
		idle) part=$(awk -v a="$(c "$g" "$grp" cpu_idle)" -v b="$(c "$g" "$grp" cpu_iowait)" 'BEGIN { print a + b }') ;;
		*) part= ;;
		esac
	fi
	[ -n "$part" ] || { printf -- '–'; return; }
	awk -v a="$part" -v b="$total" 'BEGIN { if (a != "" && b != "" && b + 0 != 0) printf "%.0f%%", a * 100 / b; else printf "n/a" }'
}
# busy GUEST GROUP: CPU seconds not idle, per MiB, in ms.
busy() {
	local g=$1 grp=$2 total idle
	if [ "$g" = unikernel ]; then
		total=$(c "$g" "$grp" go_cpu_classes_seconds_total_total)
		idle=$(c "$g" "$grp" go_cpu_classes_seconds_total_idle)
		awk -v t="$total" -v i="$idle" -v m="$(mibs "$g" "$grp")" 'BEGIN { if (t != "" && m > 0) printf "%.1f", (t - i) * 1000 / m; else printf "n/a" }'
	else
		awk -v s="${v[$g.counters_$grp]:-}" -v m="$(mibs "$g" "$grp")" 'BEGIN { n = split(s, f, " ")
			for (i = 1; i <= n; i++) { split(f[i], kv, "="); x[kv[1]] = kv[2] }
			if (!("cpu_user" in x) || m <= 0) { printf "n/a"; exit }
			b = x["cpu_user"] + x["cpu_nice"] + x["cpu_system"] + x["cpu_irq"] + x["cpu_softirq"] + x["cpu_steal"]
			printf "%.1f", b * 10 / m }' # USER_HZ is 100: a tick is 10 ms
	fi
}
# vcpu GUEST GROUP: the guest's vCPU time running (Xen's accounting), per MiB, in ms.
vcpu() {
	awk -v t="$(c "$1" "$2" guest_vcpu_seconds)" -v m="$(mibs "$1" "$2")" \
		'BEGIN { if (t != "" && m > 0) printf "%.1f", t * 1000 / m; else printf "n/a" }'
}
# permib GUEST GROUP KEY
permib() { div "$(c "$1" "$2" "$3")" "$(mibs "$1" "$2")" '%.1f'; }
# gso_dist GROUP: the unikernel's TSO frames by size bucket, in percent.
gso_dist() {
	local b n t=0 out=''
	for b in 8k 16k 32k 48k 60k 64k; do
		n=$(c unikernel "$1" "tamaxen_netstack_tx_gso_by_size_total_$b")
		[ -n "$n" ] || { printf 'n/a'; return; }
		t=$((t + n))
	done
	[ "$t" -gt 0 ] || { printf 'none'; return; }
	for b in 8k 16k 32k 48k 60k 64k; do
		n=$(c unikernel "$1" "tamaxen_netstack_tx_gso_by_size_total_$b")
		out="$out${out:+ }≤$b:$(awk -v n="$n" -v t="$t" 'BEGIN { printf "%.0f", n * 100 / t }')%"
	done
	printf '%s' "$out"
}

# time_table OP: one table for the bulk groups of OP (get or put).
time_table() {
	local op=$1 k g grp data ack head='' sep='' line
	# Frames with the data and the ACKs against them, in dom0's vif counters (rx = from the guest).
	if [ "$op" = get ]; then data=rx ack=tx; else data=tx ack=rx; fi
	for k in $streams; do
		head="$head | unikernel ×$k | Linux ×$k"
		sep="$sep | ---: | ---:"
	done
	echo "| bulk $( [ "$op" = get ] && echo "download (dom0 ← guest)" || echo "upload (dom0 → guest)")$head |"
	echo "| ---$sep |"
	cells() { # cells LABEL FUNC ARGS...: one cell per guest and stream count
		local label=$1 f=$2
		shift 2
		line="| $label"
		for k in $streams; do
			for g in unikernel linux; do
				line="$line | $("$f" "$g" "bulk_${op}_$k" "$@")"
			done
		done
		echo "$line |"
	}
	cells "guest vCPU running (Xen's runstate accounting), ms per MiB" vcpu
	cells "CPU busy, ms per MiB (unikernel: Go's estimate; Linux: /proc/stat)" busy
	cells "CPU user (unikernel: Go user; Linux: user+nice)" share user
	cells "CPU GC+scavenge (unikernel) / system (Linux)" cpu2
	cells "CPU softirq+irq (Linux)" share softirq
	cells "CPU idle" share idle
	cells "data frames per MiB" permib "vif_${data}_packets"
	cells "mean bytes per data frame" framesize "$data"
	cells "ACK frames (the other way) per MiB" permib "vif_${ack}_packets"
	cells "mean bytes per ACK frame" framesize "$ack"
	cells "guest → dom0 notifications per MiB (dom0's interrupts on the vif's event channels)" permib vif_irqs
	cells "guest upcalls per MiB (unikernel: board upcalls; Linux: eth0's interrupts)" upcalls
	cells "guest TCP retransmits" retrans
	cells "dom0 TCP retransmits" permib_raw dom0_tcp_RetransSegs
	if [ "$op" = get ]; then
		line="| guest TSO frames by size (unikernel: share per bucket; Linux: mean bytes per eth0 frame)"
		for k in $streams; do
			line="$line | $(gso_dist "bulk_get_$k") | $(div "$(c linux "bulk_get_$k" eth0_tx_bytes)" "$(c linux "bulk_get_$k" eth0_tx_packets)")"
		done
		echo "$line |"
	fi
}
cpu2() {
	if [ "$1" = unikernel ]; then share "$1" "$2" gc; else share "$1" "$2" system; fi
}
framesize() { div "$(c "$1" "$2" "vif_$3_bytes")" "$(c "$1" "$2" "vif_$3_packets")"; }
upcalls() {
	if [ "$1" = unikernel ]; then permib "$1" "$2" tamaxen_board_upcalls_total; else permib "$1" "$2" eth0_irqs; fi
}
retrans() {
	if [ "$1" = unikernel ]; then or_na "$(c "$1" "$2" tamaxen_tcp_retransmits_total)"; else or_na "$(c "$1" "$2" tcp_RetransSegs)"; fi
}
permib_raw() { or_na "$(c "$1" "$2" "$3")"; }

# --- targets ---------------------------------------------------------------------------------
targets() {
	local k op r name missed=0
	for k in $streams; do
		for op in get put; do
			name=download
			[ $op = put ] && name=upload
			r=$(ratio "$(get "unikernel.bulk_${op}_${k}_mibs")" "$(get "linux.bulk_${op}_${k}_mibs")")
			if awk -v r="$r" 'BEGIN { exit !(r + 0 == r && r >= 1.5) }'; then :; else
				echo "- not met: bulk $name over $(streamword "$k") ≥ 1.5× Linux: $r"
				missed=1
			fi
		done
	done
	r=$(ratio "$(get unikernel.ping_ms)" "$(get linux.ping_ms)")
	awk -v r="$r" 'BEGIN { exit !(r + 0 == r && r <= 0.10) }' ||
		{ echo "- not met: xl create → first ping ≤ 0.10× Linux's: $r ($(get unikernel.ping_ms) ms against $(get linux.ping_ms) ms)"; missed=1; }
	local m=${v[unikernel.minmem_mib]:-}
	if [ -z "$mems" ]; then
		echo "- not measured in this run: smallest memory (the sweep was skipped)"
	elif [ "$m" != 16 ]; then
		echo "- not met: the unikernel serves at memory = 16 MiB: smallest that served ${m:-n/a} MiB"
		missed=1
	fi
	local s=${v[unikernel.size_bytes]:-}
	if [ -z "$s" ] || [ "$s" -gt 8000000 ]; then
		echo "- not met: httpd image ≤ 8 MB (8 000 000 bytes): ${s:-n/a} bytes"
		missed=1
	fi
	[ $missed -eq 0 ] && echo "- every target of this table is met"
	return 0
}

cat <<EOF
# Benchmark: tamaxen unikernel vs Linux PVH domU on Xen

$(date -u +%Y-%m-%d), tree $tree. The unikernel (\`tools/xenbench/bulkguest\` for the bulk rows,
\`examples/httpd\` for the rest) and a Linux PVH domU booted from the test image's own Debian
kernel, one at a time, on the same Xen, as seen from dom0 over \`xenbr0\`. The bulk rows run
the same Go code on both guests (\`tools/xenbench/bulk\`). Regenerate with:

\`\`\`sh
$cmd
\`\`\`

| | unikernel | Linux | unikernel/Linux |
| --- | ---: | ---: | ---: |
$(bulk_table)
$(row "HTTP download $mib MiB, dom0 ← guest (MiB/s, median of $hruns)" "$(get unikernel.download_mibs)" "$(get linux.download_mibs)")
$(row "HTTP upload $mib MiB, dom0 → guest, hashed on neither side (MiB/s, median of $hruns)" "$(get unikernel.upload_mibs)" "$(get linux.upload_mibs)")
$(row "(a) \`xl create\` to first answered ping (ms, lower is better)" "$(get unikernel.ping_ms)" "$(get linux.ping_ms)")
$(row "(b) \`xl create\` to first HTTP answer (ms, lower is better)" "$(get unikernel.http_ms)" "$(get linux.http_ms)")
$(row "\`xl create\` to first TCP connection accepted (ms)" "$(get unikernel.tcp_ms)" "$(get linux.tcp_ms)")
$(row "\`xl create\` itself, included in (a) and (b) (ms)" "$(get unikernel.create_ms)" "$(get linux.create_ms)")
$(row "(d) smallest \`memory =\` serving a download of $membytes MiB (MiB, lower is better)" "$(minmem unikernel)" "$(minmem linux)")
$(row "(e) image size (bytes, lower is better)" "$(get unikernel.size_bytes)" "$(get linux.size_bytes)")

Targets (unikernel against Linux: bulk ≥ 1.5× both ways, first ping ≤ 0.10×, 16 MiB guests,
httpd image ≤ 8 MB):

$(targets)

Every run, in MiB/s:

$(every_run)
- boot of the bulk server (\`bulkguest\`), in ms: ping $(get unikernel.bulk_ping_ms), TCP $(get unikernel.bulk_tcp_ms), HTTP $(get unikernel.bulk_http_ms), \`xl create\` $(get unikernel.bulk_create_ms)
- (d), unikernel: $(tries unikernel).
- (d), Linux: $(tries linux).
- (e): unikernel $(get unikernel.size_detail); Linux $(get linux.size_detail).

## Machine and load

- QEMU ${qemu:-?}
  with TCG (no KVM) and one vCPU (\`-smp 1\`) that Xen, dom0 and the guest share, on a host
  with $(nproc) cores of $(or_na "$cpu")
- Xen $(get env.xen) (Debian 12), dom0 and Linux domU kernel $(get env.kernel) (Debian 12);
  dom0 has 1024 MiB and one vCPU; both guests have one vCPU
- tree $tree; the run took $(get host.seconds) s (tools/xenimage/run.sh, QEMU included); the host's
  1-minute load average was $(get host.load | sed 's/ / at the start and /') at the end

Under TCG every instruction is emulated, so the absolute numbers are one to two orders of
magnitude below real hardware, and they are noisy: other work on the host stretches them, and
single transfers of the same run differ by up to 2x (every run is listed above). Boot times,
memory and size differ between the guests by far more than that noise; the throughput ratios
do not, so read them across several runs.

## Method

\`tools/xenbench/test.sh\` runs in dom0 (payload laid out by \`make xen-bench\` under
\`build/bench-payload\`, booted by \`tools/xenimage/run.sh --linux-domu\`), and
\`tools/xenbench/report.sh\` writes this file.

- **Guests.** Unikernel: \`examples/httpd/httpd.cfg\` (memory $(get unikernel.memory_mib) MiB) for the
  boot figures and the HTTP rows, \`tools/xenbench/bulkguest/bulkguest.cfg\` (memory
  $(get unikernel.bulk_memory_mib) MiB) for the bulk rows, both with \`extra="ip=10.0.0.2/24 gw=10.0.0.1"\`.
  Linux: the image's \`vmlinux\` (the dom0 kernel, unchanged) with memory $(get linux.memory_mib) MiB
  (room for the $mib MiB file) and a busybox initramfs (\`tools/xenbench/linux-init\`): insmod
  xen-netfront, 10.0.0.2/24, \`busybox httpd\` serving from a tmpfs, the upload sink and the
  bulk server. Both: \`type = "pvh"\`, one vCPU, a vif on \`xenbr0\`, IPv4 address 10.0.0.2.
- **Bulk.** \`tools/xenbench/bulk\`: one request of 16 bytes per connection, then the server
  sends N bytes from a buffer it reuses (get: "download", dom0 ← guest) or reads and discards
  N bytes and answers the count (put: "upload", dom0 → guest), 128 KiB per read or write on both
  sides. The guests run the same server code: \`bulkguest\` on the unikernel (gVisor's TCP
  over netfront), the static \`bulk serve\` (CGO_ENABLED=0) on Linux's TCP. dom0 runs the
  client, \`bulk get|put -streams K\`, which splits N over K connections and times from the
  first connection to the last byte read (get) or to the guest's count (put), so an upload
  counts only once the guest has every byte. $mib MiB per run, $runs runs per row (median and
  every run above), over $(sed 's/ / and /g' <<<"$streams") parallel connections.
- **HTTP download** \`curl -o /dev/null\` of $mib MiB: the unikernel's \`/download?bytes=N\`
  (a deterministic stream generated as it is sent), Linux's \`/download\`, a file of zeros in
  the tmpfs (busybox httpd, page cache). Status and length are checked; the rate is curl's.
- **HTTP upload, hashed on neither side.** The same $mib MiB from dom0 to the guest, which
  counts and discards what it receives and answers the count; dom0 checks it. Unikernel: a POST
  to \`/upload?hash=0\` with \`curl --data-binary @file\` (Go's net/http, the body read 256 KiB
  at a time and discarded). Linux: plain TCP to \`busybox nc -l -p 5001 -e wc -c\`, sent by
  \`socat -b 65536\` with a half-close at the end (busybox httpd relays a POST body to a CGI 1 KiB
  at a time through a pipe, which would measure busybox, not Linux). Rate = bytes over the time
  from the start to the answer.
- **(a), (b) Boot**, one boot each. dom0's prober (\`bulk probe\`) starts \`xl create\` itself
  and from that moment sends an ICMP echo (raw socket) every 10 ms; once the guest answers, it
  opens a TCP connection to port 80 followed by \`GET /\` every 10 ms, a new connection each
  time, and reports the ms from its start to \`xl create\`'s exit, the first echo reply, the
  first connection accepted and the first HTTP status line. (Connection attempts every 10 ms
  from the start, SYNs and their retransmissions on dom0's one vCPU, slowed \`xl create\` of
  httpd from 1.1 s to 1.8–2.3 s in a trial.) Before \`xl create\`, dom0 is given the guest's MAC for 10.0.0.2 as a
  permanent neighbour entry: no probe waits for ARP, whose retry every second would otherwise
  set the resolution (the guest still resolves dom0's address itself before it can answer).
  Included: the toolstack, the vif hotplug, the guest's boot and its network set-up.
- **(d)** \`xl create … memory=M\` for M in ${mems:-(skipped)}, stopping at the first that answers ping and
  HTTP and serves a download of $membytes MiB (for Linux a file of that size in its tmpfs, and
  the initramfs without the bulk tool). Unikernel: \`examples/httpd\`.
- **(e)** What the toolstack loads: the unikernel's stripped ELF (\`examples/httpd\`); the
  kernel ELF plus the uncompressed initramfs for Linux, without the bulk tool, as in (d) (the
  bzImage Debian ships is smaller, but a PVH domU is booted from the uncompressed ELF).

## Where the time goes (the bulk runs)

Deltas around each row's $runs runs, per MiB moved. Frames and bytes are dom0's counters of
the guest's vif (each frame as the backend sees it: a TSO frame is one). Notifications are the
interrupts dom0 took on the vif's event channels (\`/proc/interrupts\`): the guest's
notifications of its backend. The guest's vCPU time is Xen's own accounting of the time it ran
(\`xl vcpu-list\`, to 0.1 s), the same measure for both guests; on TamaGo the Go runtime's CPU
classes below are only updated when the collector runs, so they can lag or go negative between
collections. CPU: the unikernel's \`go_cpu_classes_seconds_total\` (on TamaGo
"idle" is the time the scheduler spent halted in the board's idle hook), Linux's \`/proc/stat\`
cpu line; shares of the CPU time that passed. Upcalls: the unikernel's board counter
(\`tamaxen_board_upcalls_total\` on bulkguest's \`/metrics\`), Linux's interrupts of eth0's event
channels in its own \`/proc/interrupts\`.

$(time_table get)

$(time_table put)

Raw deltas:

\`\`\`
$(for g in unikernel linux; do for grp in download upload $(for k in $streams; do echo "bulk_get_$k bulk_put_$k"; done); do
	printf '%s %s: %s\n' "$g" "$grp" "$(get "$g.counters_$grp")"
	printf '%s %s, dom0: %s\n' "$g" "$grp" "$(get "$g.dom0_$grp")"
done; done)
\`\`\`
EOF
