#!/usr/bin/env bash
# test.sh — dom0 side of `make xen-bench`: the unikernel and a Linux PVH domU, side by side.
#
# One guest at a time, all at 10.0.0.2 on xenbr0, all with one vCPU:
#   unikernel  httpd.elf with httpd.cfg, then bulkguest.elf with bulkguest.cfg (the bulk server),
#              extra="ip=10.0.0.2/24 gw=10.0.0.1"
#   linux      the image's own kernel ($XT_LINUX_KERNEL, dom0's vmlinux) with a busybox
#              initramfs (linux-init: xen-netfront, busybox httpd on a tmpfs, an upload sink,
#              the bulk server /bulk)
# For each: (a) ms from `xl create` to the first ping dom0 gets answered, (b) to the first HTTP
# answer (bulk probe, 10 ms resolution); bulk TCP get and put of BENCH_BYTES over each of
# BENCH_STREAMS connections, BENCH_RUNS times each (median), and HTTP download and upload
# (BENCH_HTTP_RUNS), with counters around each group; (d) the smallest memory= of BENCH_MEMS
# that boots and serves a BENCH_MEM_BYTES download (skipped when BENCH_MEMS is empty);
# (e) image bytes.
#
# Results are "xen-test: info bench GUEST KEY VALUE..." lines that tools/xenbench/report.sh
# turns into the table; every measurement that worked is also a PASS, every one that did not
# a FAIL. The payload (laid out by mk/xen.mk) holds this script, linux-init, httpd.elf,
# httpd.cfg, bulkguest.elf, bulkguest.cfg, bench.env, bin/xenpeer and bin/bulk. Needs run.sh
# --linux-domu.
. /usr/lib/xentest/lib.sh
cd /payload || exit 1
export PATH="/payload/bin:$PATH"
# shellcheck source=/dev/null
. ./bench.env
BENCH_BYTES=${BENCH_BYTES:-67108864}
BENCH_RUNS=${BENCH_RUNS:-5}
BENCH_HTTP_RUNS=${BENCH_HTTP_RUNS:-3}
BENCH_STREAMS=${BENCH_STREAMS:-1 4}
BENCH_MEMS=${BENCH_MEMS-16 20 24 32 48 64 96 128}
BENCH_MEM_BYTES=${BENCH_MEM_BYTES:-8388608}
BENCH_LINUX_MEM=${BENCH_LINUX_MEM:-256}

IP=10.0.0.2
U_CFG=httpd.cfg
U_NAME=$(xt_cfg_name "$U_CFG")
U_EXTRA="ip=$IP/24 gw=10.0.0.1"
B_CFG=bulkguest.cfg
B_NAME=$(xt_cfg_name "$B_CFG")
L_NAME=bench-linux
L_CFG=/tmp/bench-linux.cfg
L_INITRD=/tmp/bench-linux.cpio
L_INITRD_MIN=/tmp/bench-linux-min.cpio

# out GUEST KEY VALUE... prints one result line for report.sh.
out() {
	local guest=$1 key=$2
	shift 2
	xt_info "bench $guest $key $*"
}

# since T0 [T1] prints the seconds from EPOCHREALTIME T0 to T1 (default now), to 0.1 s.
since() {
	awk -v a="$1" -v b="${2:-$EPOCHREALTIME}" 'BEGIN { printf "%.1f", b - a }'
}

# median VALUE... prints the median.
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# boot NAME TIMEOUT CFG [KEY=VALUE...] creates the domain under dom0's boot prober (`bulk
# probe`: an ICMP echo and a TCP connection with GET / every 10 ms from just before `xl create`
# starts) and waits until the guest answered both. dom0 is given the guest's MAC for $IP as a
# permanent neighbour entry first, so no probe waits for ARP (whose retry is 1 s). Sets
# B_CREATE, B_PING, B_TCP, B_HTTP (ms from the start of xl create) and B_DOMID. A crash or
# triple fault within XT_SETTLE seconds is TCG's (see xt_create) and retried, up to
# XT_CREATE_TRIES times. Returns 0, or 1 with B_WHY set. The domain is left running.
boot() {
	local name=$1 timeout=$2 cfg=$3 try t0 reason o pid rc mac checked
	shift 3
	B_CREATE='' B_PING='' B_TCP='' B_HTTP='' B_DOMID='' B_WHY=''
	mac=$(sed -n 's/.*mac=\([0-9a-fA-F:]*\).*/\1/p' "$cfg" | head -n 1)
	for ((try = 1; try <= XT_CREATE_TRIES; try++)); do
		xt_destroy "$name"
		rm -f "$(xt_console_log "$name")" "$(xt_xl_log "$name")"
		# The other guest had the same address and another MAC.
		ip neigh flush dev xenbr0 >/dev/null 2>&1
		ip neigh replace "$IP" lladdr "$mac" dev xenbr0 nud permanent
		t0=$EPOCHREALTIME
		bulk probe -ip "$IP" -timeout "${timeout}s" -- xl create "$cfg" "$@" >/tmp/bench-probe.out 2>/tmp/bench-probe.err &
		pid=$!
		checked=0 B_WHY=''
		while kill -0 "$pid" 2>/dev/null; do
			sleep 0.5
			reason=$(xt_shutdown_reason "$name")
			case $reason in
			running | none) ;;
			*) B_WHY=$reason ;;
			esac
			# A guest that died without shutting down (the Go runtime out of memory hangs
			# after saying so on port 0xe9). xl dmesg reads 1 MiB: only every 5 s.
			if [ -z "$B_WHY" ] && [ $((SECONDS - checked)) -ge 5 ] && B_DOMID=$(xt_domid "$name"); then
				checked=$SECONDS
				o=$({ xt_debugcon "$B_DOMID"; cat "$(xt_console_log "$name")" 2>/dev/null; } |
					grep -m 1 -E '^(fatal error|panic):|Kernel panic|Out of memory')
				[ -n "$o" ] && B_WHY="after $(since "$t0")s: $o"
			fi
			[ -n "$B_WHY" ] && kill "$pid" 2>/dev/null
		done
		rc=0
		wait "$pid" || rc=$?
		o=$(grep '^probe ' /tmp/bench-probe.out)
		B_CREATE=$(sed -n 's/.* create_ms=\(-*[0-9]*\).*/\1/p' <<<"$o")
		B_PING=$(sed -n 's/.* ping_ms=\(-*[0-9]*\).*/\1/p' <<<"$o")
		B_TCP=$(sed -n 's/.* tcp_ms=\(-*[0-9]*\).*/\1/p' <<<"$o")
		B_HTTP=$(sed -n 's/.* http_ms=\(-*[0-9]*\).*/\1/p' <<<"$o")
		if grep -q ' create_rc=[1-9]' <<<"$o"; then
			o=$(cat /tmp/bench-probe.err)
			# The first error, without its "xc: error: panic: file.c:NNN: fn: " prefix.
			B_WHY="xl create failed: $({ grep -m 1 -i 'error' <<<"$o" || tail -n 1 <<<"$o"; } |
				sed -E 's/^(libxl|xc): error: (panic: )?//; s/^[a-z_]+\.c:[0-9]+: //; s/^[a-z_]+: //')"
			return 1
		fi
		B_DOMID=$(xt_created_domid "$name")
		case $B_WHY in
		crash | triple_fault)
			if [ "$(since "$t0" | cut -d. -f1)" -lt $((XT_SETTLE + 5)) ] && [ $try -lt "$XT_CREATE_TRIES" ]; then
				echo "xen-test: retry $name ($try/$XT_CREATE_TRIES): $B_WHY right after start"
				continue
			fi
			B_WHY="domain $B_WHY after $(since "$t0")s"
			return 1
			;;
		'') ;;
		after*) return 1 ;;
		*)
			B_WHY="domain gone ($B_WHY) after $(since "$t0")s"
			return 1
			;;
		esac
		if [ $rc -ne 0 ] || [ -z "$B_HTTP" ] || [ "$B_HTTP" -lt 0 ]; then
			B_WHY="no answer within ${timeout}s (${o:-$(tail -n 1 /tmp/bench-probe.err)})"
			return 1
		fi
		return 0
	done
	B_WHY="crashed right after start on all $XT_CREATE_TRIES tries"
	return 1
}

# download URL BYTES prints curl's rate in MiB/s after checking status and length; prints why
# and returns 1 otherwise. The body goes to /dev/null: dom0 shares the one vCPU.
download() {
	local o code size speed
	o=$(curl -sS --max-time 900 -o /dev/null -w '%{http_code} %{size_download} %{speed_download}' "$1" 2>&1) ||
		{ echo "curl: $(tail -n 1 <<<"$o")"; return 1; }
	read -r code size speed <<<"$o"
	if [ "$code" != 200 ] || [ "$size" != "$2" ]; then
		echo "status $code, $size bytes, want $2"
		return 1
	fi
	awk -v s="$speed" 'BEGIN { printf "%.2f\n", s / 1048576 }'
}

# upload URL FILE BYTES POSTs FILE and prints the rate in MiB/s (size over the time to the
# answer) if the guest answers BYTES (httpd's /upload?hash=0 counts and discards); prints why
# and returns 1 otherwise.
upload() {
	local o body size speed
	o=$(curl -sS --fail --max-time 900 -H 'Expect:' -H 'Content-Type: application/octet-stream' \
		--data-binary "@$2" -w '\n%{size_upload} %{speed_upload}\n' "$1" 2>&1) ||
		{ echo "curl: $(tail -n 1 <<<"$o")"; return 1; }
	body=$(head -n 1 <<<"$o" | tr -d '\r')
	read -r size speed <<<"$(tail -n 1 <<<"$o")"
	[ "$body" = "$3" ] || { echo "answer '$body', want '$3'"; return 1; }
	awk -v s="$speed" 'BEGIN { printf "%.2f\n", s / 1048576 }'
}

# upload_tcp HOST:PORT FILE BYTES sends FILE over TCP with socat (64 KiB writes, then a
# half-close) to a sink that counts what it reads and answers the count (Linux's
# `nc -l -e wc -c`); prints BYTES over the time to the answer in MiB/s if the count matches,
# prints why and returns 1 otherwise.
upload_tcp() {
	local t0 t1 o
	t0=$EPOCHREALTIME
	o=$(socat -b 65536 -t 900 -T 900 STDIO "TCP:$1,connect-timeout=10" <"$2" 2>&1) ||
		{ echo "socat: $(tail -n 1 <<<"$o")"; return 1; }
	t1=$EPOCHREALTIME
	# shellcheck disable=SC2086
	[ "$(echo $o)" = "$3" ] || { echo "answer '$(head -c 100 <<<"$o")', want '$3'"; return 1; }
	awk -v n="$3" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", n / (b - a) / 1048576 }'
}

# --- counters: snapshots are "key value" lines; delta prints "key=after-before" ------------

# snap_vif DOMID: dom0's view of the guest's vif (rx = from the guest), the interrupts dom0
# took for its event channels (the guest's notifications; dom0 has one vCPU, so column 2 is
# all of them) and dom0's TCP; fails, printing why last, when a counter cannot be read.
snap_vif() {
	local d=/sys/class/net/vif$1.0/statistics f v
	for f in rx_packets rx_bytes tx_packets tx_bytes; do
		v=$(cat "$d/$f" 2>&1) || { echo "$d/$f: $v"; return 1; }
		echo "vif_$f $v"
	done
	awk -v p="vif$1.0-q" 'index($NF, p) == 1 { s += $2 } END { print "vif_irqs", s + 0 }' /proc/interrupts
	snmp_tcp </proc/net/snmp | sed 's/^/dom0_/'
	# The guest's vCPU time running, as Xen accounts it (its runstate; Time(s), to 0.1 s): the
	# one CPU figure measured the same way for both guests.
	v=$(xl vcpu-list "$1" 2>&1 | awk 'NR == 2 && $6 ~ /^[0-9.]+$/ { print $6 }')
	[ -n "$v" ] || { echo "xl vcpu-list $1: no Time(s)"; return 1; }
	echo "guest_vcpu_seconds $v"
}

# snmp_tcp reads /proc/net/snmp and prints its Tcp fields as "tcp_Name value".
snmp_tcp() {
	awk '$1 == "Tcp:" { if (!n) { for (i = 2; i <= NF; i++) k[i] = $i; n = 1 } else for (i = 2; i <= NF; i++) print "tcp_" k[i], $i }'
}

# snap_guest GUEST: the guest's own counters, over HTTP. Unikernel: /metrics summed over
# queues and causes (the labels dir, class and size kept as a suffix); Linux: the Tcp line
# of /proc/net/snmp, eth0 of /proc/net/dev, the cpu line of /proc/stat (USER_HZ ticks) and
# the interrupts of eth0's event channels (xen-netfront names them vifN-qM[-tx|-rx]).
snap_guest() {
	local m
	if [ "$1" = unikernel ]; then
		m=$(curl -sS --fail --max-time 30 "http://$IP/metrics" 2>&1) || { echo "/metrics: $m"; return 1; }
		awk '/^#/ || NF < 2 { next }
			{ k = $1; d = ""
			  if (match(k, /dir="[a-z]+"/)) d = d "_" substr(k, RSTART + 5, RLENGTH - 6)
			  if (match(k, /class="[a-z]+"/)) d = d "_" substr(k, RSTART + 7, RLENGTH - 8)
			  if (match(k, /size="[a-z0-9]+"/)) d = d "_" substr(k, RSTART + 6, RLENGTH - 7)
			  sub(/[{].*/, "", k); s[k d] += $NF }
			END { for (k in s) printf "%s %.6f\n", k, s[k] }' <<<"$m"
	else
		m=$(curl -sS --fail --max-time 30 "http://$IP/cgi-bin/stats" 2>&1) || { echo "/cgi-bin/stats: $m"; return 1; }
		snmp_tcp <<<"$m"
		awk '$1 == "eth0:" { print "eth0_rx_bytes", $2; print "eth0_rx_packets", $3;
			print "eth0_tx_bytes", $10; print "eth0_tx_packets", $11 }
			$1 == "cpu" { print "cpu_user", $2; print "cpu_nice", $3; print "cpu_system", $4;
			print "cpu_idle", $5; print "cpu_iowait", $6; print "cpu_irq", $7; print "cpu_softirq", $8;
			print "cpu_steal", $9 }
			$1 ~ /^[0-9]+:$/ && $NF ~ /^(eth0|vif[0-9]+-q)/ { irq += $2 }
			END { print "eth0_irqs", irq + 0 }' <<<"$m"
	fi
}

# delta BEFORE AFTER KEYS prints "KEY=after-before" for each of the blank-separated KEYS; a
# key missing from either snapshot is printed "KEY=" (report.sh shows n/a) and fails delta.
delta() {
	awk -v keys="${3//$'\n'/ }" 'FILENAME == ARGV[1] { b[$1] = $2; next } { a[$1] = $2 }
		END { n = split(keys, k, " ")
			for (i = 1; i <= n; i++) {
				printf "%s%s=", (i > 1 ? " " : ""), k[i]
				if (k[i] in a && k[i] in b) {
					d = a[k[i]] - b[k[i]]
					if (d == int(d)) printf "%.0f", d; else printf "%.3f", d
				} else bad = 1
			}
			print ""; exit bad }' \
		<(printf '%s\n' "$1") <(printf '%s\n' "$2")
}

# counters GUEST DOMID prints one snapshot of dom0's counters (snap_vif) and the guest's
# (snap_guest); fails, printing why, when either cannot be read.
counters() {
	local v g
	v=$(snap_vif "$2") || { echo "dom0: $(tail -n 1 <<<"$v")"; return 1; }
	g=$(snap_guest "$1") || { echo "guest: $(tail -n 1 <<<"$g")"; return 1; }
	printf '%s\n%s\n' "$v" "$g"
}

# out_deltas GUEST WHAT BEFORE AFTER WHY KEYS prints the result lines dom0_WHAT and
# counters_WHAT from two snapshots of counters (KEYS of the guest's). WHY, when not empty,
# says why a snapshot failed: that, or a counter missing from one of them, is a FAIL.
out_deltas() {
	local guest=$1 what=$2 c0=$3 c1=$4 why=$5 keys=$6 d r=0
	if [ -n "$why" ]; then
		xt_fail "bench $guest counters around the ${what} runs" "$why"
		return
	fi
	d=$(delta "$c0" "$c1" "$VIF_KEYS") || r=1
	out "$guest" "dom0_$what" "$d"
	d=$(delta "$c0" "$c1" "$keys") || r=1
	out "$guest" "counters_$what" "$d"
	if [ $r -ne 0 ]; then
		xt_fail "bench $guest counters around the ${what} runs" \
			"missing from a snapshot: $(delta "$c0" "$c1" "$VIF_KEYS $keys" | tr ' ' '\n' | grep '=$' | tr '\n' ' ')"
	fi
}

VIF_KEYS="vif_rx_packets vif_rx_bytes vif_tx_packets vif_tx_bytes vif_irqs dom0_tcp_OutSegs dom0_tcp_InSegs dom0_tcp_RetransSegs guest_vcpu_seconds"
U_KEYS="tamaxen_netfront_packets_total_tx tamaxen_netfront_bytes_total_tx tamaxen_netfront_gso_packets_total_tx
tamaxen_netstack_tx_gso_total tamaxen_netstack_tx_gso_bytes_total tamaxen_netstack_tx_csum_offload_total
tamaxen_netstack_tx_csum_software_total tamaxen_netfront_tx_polled_total tamaxen_netfront_dropped_total_tx
tamaxen_netfront_packets_total_rx tamaxen_netfront_gso_packets_total_rx tamaxen_netstack_rx_validated_total
tamaxen_netfront_rx_csum_blank_total tamaxen_netfront_dropped_total_rx tamaxen_tcp_retransmits_total"
# The bulk server's /metrics adds the board's counters; the TSO size buckets are netstack's.
U_GSO_KEYS="tamaxen_netstack_tx_gso_by_size_total_8k tamaxen_netstack_tx_gso_by_size_total_16k tamaxen_netstack_tx_gso_by_size_total_32k
tamaxen_netstack_tx_gso_by_size_total_48k tamaxen_netstack_tx_gso_by_size_total_60k tamaxen_netstack_tx_gso_by_size_total_64k"
U_BULK_KEYS="$U_KEYS go_cpu_classes_seconds_total_user go_cpu_classes_seconds_total_gc
go_cpu_classes_seconds_total_idle go_cpu_classes_seconds_total_scavenge go_cpu_classes_seconds_total_total
tamaxen_board_upcalls_total tamaxen_board_rescued_total tamaxen_board_idles_total tamaxen_netfront_spurious_events_total
${U_GSO_KEYS:-}"
L_KEYS="tcp_OutSegs tcp_InSegs tcp_RetransSegs eth0_tx_packets eth0_tx_bytes eth0_rx_packets eth0_rx_bytes"
L_BULK_KEYS="$L_KEYS cpu_user cpu_nice cpu_system cpu_idle cpu_iowait cpu_irq cpu_softirq cpu_steal eth0_irqs"

# --- one guest: boot, HTTP, bulk ------------------------------------------------------------

# booted GUEST PREFIX: the boot figures of the last boot as PREFIX{create,ping,tcp,http}_ms.
booted() {
	xt_pass "bench $1 boot ($2): ping after ${B_PING} ms, TCP ${B_TCP} ms, HTTP ${B_HTTP} ms (xl create ${B_CREATE} ms)"
	out "$1" "${2}create_ms" "$B_CREATE"
	out "$1" "${2}ping_ms" "$B_PING"
	out "$1" "${2}tcp_ms" "$B_TCP"
	out "$1" "${2}http_ms" "$B_HTTP"
}

# boot_failed GUEST NAME WHAT: a failed boot, with the console's last lines.
boot_failed() {
	xt_fail "bench $1 boot ($3)" "$B_WHY"
	sed "s/^/xen-test: info $1 console: /" "$(xt_console_log "$2")" 2>/dev/null | tail -n 15
	xt_destroy "$2"
}

# http_rows GUEST DOMID: the HTTP download and upload, BENCH_HTTP_RUNS each, with counters.
http_rows() {
	local guest=$1 domid=$2 i r rates c0 c1 why path keys=$L_KEYS
	[ "$guest" = unikernel ] && keys=$U_KEYS
	path="/download?bytes=$BENCH_BYTES"
	[ "$guest" = linux ] && path=/download
	rates=() why=''
	c0=$(counters "$guest" "$domid") || why="before: $c0"
	for ((i = 1; i <= BENCH_HTTP_RUNS; i++)); do
		if r=$(download "http://$IP$path" "$BENCH_BYTES"); then rates+=("$r"); else
			xt_fail "bench $guest HTTP download run $i" "$r"
		fi
	done
	c1=$(counters "$guest" "$domid") || why="${why:+$why; }after: $c1"
	if [ ${#rates[@]} -gt 0 ]; then
		out "$guest" download_runs "${rates[*]}"
		out "$guest" download_mibs "$(median "${rates[@]}")"
		xt_pass "bench $guest HTTP download $((BENCH_BYTES >> 20)) MiB x${#rates[@]}: ${rates[*]} MiB/s"
		out_deltas "$guest" download "$c0" "$c1" "$why" "$keys"
	fi

	# dom0 -> guest, the same file for both guests; neither side hashes it.
	rates=() why=''
	c0=$(counters "$guest" "$domid") || why="before: $c0"
	for ((i = 1; i <= BENCH_HTTP_RUNS; i++)); do
		if [ "$guest" = unikernel ]; then
			r=$(upload "http://$IP/upload?hash=0" /tmp/bench-upload "$BENCH_BYTES")
		else
			r=$(upload_tcp "$IP:5001" /tmp/bench-upload "$BENCH_BYTES")
		fi
		# shellcheck disable=SC2181
		if [ $? -eq 0 ]; then rates+=("$r"); else
			xt_fail "bench $guest HTTP upload run $i" "$r"
		fi
	done
	c1=$(counters "$guest" "$domid") || why="${why:+$why; }after: $c1"
	if [ ${#rates[@]} -gt 0 ]; then
		out "$guest" upload_runs "${rates[*]}"
		out "$guest" upload_mibs "$(median "${rates[@]}")"
		xt_pass "bench $guest HTTP upload $((BENCH_BYTES >> 20)) MiB x${#rates[@]}: ${rates[*]} MiB/s"
		out_deltas "$guest" upload "$c0" "$c1" "$why" "$keys"
	fi
}

# bulk_rows GUEST DOMID: for each of BENCH_STREAMS, BENCH_RUNS bulk gets (dom0 <- guest,
# "download") and puts ("upload") of BENCH_BYTES, with counters around each group.
bulk_rows() {
	local guest=$1 domid=$2 k op i o r rates per c0 c1 why keys=$L_BULK_KEYS
	[ "$guest" = unikernel ] && keys=$U_BULK_KEYS
	for k in $BENCH_STREAMS; do
		for op in get put; do
			rates=() per=() why=''
			c0=$(counters "$guest" "$domid") || why="before: $c0"
			for ((i = 1; i <= BENCH_RUNS; i++)); do
				if o=$(bulk "$op" -addr "$IP:5201" -bytes "$BENCH_BYTES" -streams "$k" -timeout 900s 2>&1) &&
					r=$(sed -n 's/^bulk .* mibs=\([0-9.]*\) .*/\1/p' <<<"$o") && [ -n "$r" ]; then
					rates+=("$r")
					per+=("$(sed -n 's/.* stream_mibs=\([0-9.,]*\).*/\1/p' <<<"$o")")
				else
					xt_fail "bench $guest bulk $op x$k run $i" "$(tail -n 1 <<<"$o")"
				fi
			done
			c1=$(counters "$guest" "$domid") || why="${why:+$why; }after: $c1"
			[ ${#rates[@]} -gt 0 ] || continue
			out "$guest" "bulk_${op}_${k}_runs" "${rates[*]}"
			out "$guest" "bulk_${op}_${k}_mibs" "$(median "${rates[@]}")"
			out "$guest" "bulk_${op}_${k}_streams" "${per[*]}"
			xt_pass "bench $guest bulk $op $((BENCH_BYTES >> 20)) MiB over $k stream(s) x${#rates[@]}: ${rates[*]} MiB/s"
			out_deltas "$guest" "bulk_${op}_${k}" "$c0" "$c1" "$why" "$keys"
		done
	done
}

# minmem GUEST NAME BOOT_TIMEOUT CFG [KEY=VALUE...]: (d), the first memory= of BENCH_MEMS
# with which the guest boots and serves a BENCH_MEM_BYTES download.
minmem() {
	local guest=$1 name=$2 timeout=$3 cfg=$4 m r path tries=()
	shift 4
	path="/download?bytes=$BENCH_MEM_BYTES"
	[ "$guest" = linux ] && path=/download
	for m in $BENCH_MEMS; do
		if ! boot "$name" "$timeout" "$cfg" "memory=$m" "$@"; then
			tries+=("$m:no($B_WHY)")
			xt_info "bench $guest memory=$m: $B_WHY"
			xt_destroy "$name"
			continue
		fi
		if [ "$guest" = linux ] && ! xt_wait_console "$name" "^bench-linux: ready $BENCH_MEM_BYTES" 60; then
			B_WHY="no download file: $(tail -n 2 "$(xt_console_log "$name")" | tr '\n' '|')"
		elif ! r=$(download "http://$IP$path" "$BENCH_MEM_BYTES"); then
			B_WHY=$r
		else
			tries+=("$m:ok")
			xt_destroy "$name"
			out "$guest" minmem_mib "$m"
			out "$guest" minmem_tries "${tries[*]}"
			xt_pass "bench $guest smallest memory: $m MiB (ping ${B_PING} ms, HTTP ${B_HTTP} ms, $r MiB/s)"
			return 0
		fi
		tries+=("$m:no($B_WHY)")
		xt_info "bench $guest memory=$m: $B_WHY"
		sed "s/^/xen-test: info $guest console: /" "$(xt_console_log "$name")" 2>/dev/null | tail -n 5
		xt_destroy "$name"
	done
	out "$guest" minmem_mib "none"
	out "$guest" minmem_tries "${tries[*]}"
	xt_fail "bench $guest smallest memory" "none of $BENCH_MEMS MiB served $BENCH_MEM_BYTES bytes"
}

# --- the run ---------------------------------------------------------------------------------
out env xen "$(xl info | awk -F' *: *' '$1 == "xen_version" { print $2 }')"
out env kernel "$(uname -r)"
out env params "bytes=$BENCH_BYTES runs=$BENCH_RUNS http_runs=$BENCH_HTTP_RUNS streams=${BENCH_STREAMS// /,} mems=${BENCH_MEMS// /,} mem_bytes=$BENCH_MEM_BYTES linux_mem=$BENCH_LINUX_MEM"

if [ ! -f "$XT_LINUX_KERNEL" ]; then
	xt_fail "bench linux" "no $XT_LINUX_KERNEL (run.sh needs --linux-domu)"
	xt_finish
	exit
fi
xt_linux_initrd "$L_INITRD" ./linux-init bin/bulk || xt_fail "bench linux initrd" "cannot build $L_INITRD"
# Without the bulk tool, as the unikernel's httpd.elf: for (d) and (e).
xt_linux_initrd "$L_INITRD_MIN" ./linux-init || xt_fail "bench linux initrd" "cannot build $L_INITRD_MIN"
cat >"$L_CFG" <<CFG
name = "$L_NAME"
type = "pvh"
kernel = "$XT_LINUX_KERNEL"
ramdisk = "$L_INITRD"
extra = "console=hvc0 quiet panic=1 xbench_bytes=$BENCH_BYTES"
memory = $BENCH_LINUX_MEM
vcpus = 1
vif = [ "mac=00:16:3e:5a:11:0b,bridge=xenbr0" ]
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "preserve"
CFG

# (e) image sizes: what the toolstack loads.
if u_size=$(stat -c %s httpd.elf 2>&1) && k_size=$(stat -c %s "$XT_LINUX_KERNEL" 2>&1) &&
	i_size=$(stat -c %s "$L_INITRD_MIN" 2>&1) && b_size=$(stat -c %s bulkguest.elf 2>&1) &&
	bb_size=$(stat -c %s "$L_INITRD" 2>&1); then
	out unikernel size_bytes "$u_size"
	out unikernel size_detail "httpd.elf $u_size (bulkguest.elf $b_size)"
	out linux size_bytes $((k_size + i_size))
	out linux size_detail "vmlinux $k_size + initramfs $i_size (busybox, $(find /lib/modules -name 'xen-netfront.ko*' | head -n 1 | xargs -r basename) and deps, init; $bb_size with the bulk tool)"
else
	xt_fail "bench image sizes" "httpd.elf '$u_size', vmlinux '$k_size', initramfs '$i_size', bulkguest.elf '$b_size', bulk '$bb_size'"
fi
out unikernel memory_mib "$(sed -n 's/^[[:space:]]*memory[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$U_CFG")"
out unikernel bulk_memory_mib "$(sed -n 's/^[[:space:]]*memory[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$B_CFG")"
out linux memory_mib "$BENCH_LINUX_MEM"

# The HTTP upload body, the same for both guests.
xenpeer pattern -bytes "$BENCH_BYTES" >/tmp/bench-upload

# The unikernel: examples/httpd for the boot figures and the HTTP rows, then the bulk server.
if boot "$U_NAME" 90 "$U_CFG" "extra=\"$U_EXTRA\""; then
	booted unikernel ''
	http_rows unikernel "$B_DOMID"
	xt_destroy "$U_NAME"
else
	boot_failed unikernel "$U_NAME" httpd
fi
if boot "$B_NAME" 90 "$B_CFG" "extra=\"$U_EXTRA\""; then
	booted unikernel bulk_
	bulk_rows unikernel "$B_DOMID"
	xt_destroy "$B_NAME"
else
	boot_failed unikernel "$B_NAME" bulkguest
fi

# Linux: one boot serves everything (busybox httpd, the upload sink, the bulk server).
if boot "$L_NAME" 240 "$L_CFG"; then
	booted linux ''
	if ! xt_wait_console "$L_NAME" "^bench-linux: ready $BENCH_BYTES" 120; then
		xt_fail "bench linux download file" "$(tail -n 3 "$(xt_console_log "$L_NAME")" | tr '\n' '|')"
	fi
	http_rows linux "$B_DOMID"
	bulk_rows linux "$B_DOMID"
	xt_destroy "$L_NAME"
else
	boot_failed linux "$L_NAME" linux
fi
rm -f /tmp/bench-upload

if [ -n "$BENCH_MEMS" ]; then
	minmem unikernel "$U_NAME" 45 "$U_CFG" "extra=\"$U_EXTRA\""
	minmem linux "$L_NAME" 150 "$L_CFG" "ramdisk=\"$L_INITRD_MIN\"" "extra=\"console=hvc0 quiet panic=1 xbench_bytes=$BENCH_MEM_BYTES\""
else
	xt_info "bench memory sweep skipped (BENCH_MEMS empty)"
fi
ip neigh del "$IP" dev xenbr0 >/dev/null 2>&1
xt_finish
