#!/usr/bin/env bash
# test.sh — dom0 side of `make xen-bench`: examples/httpd and a Linux PVH domU, side by side.
#
# One guest at a time, both at 10.0.0.2 on xenbr0, both with one vCPU:
#   unikernel  httpd.elf with httpd.cfg (memory 64), extra="ip=10.0.0.2/24 gw=10.0.0.1"
#   linux      the image's own kernel ($XT_LINUX_KERNEL, dom0's vmlinux) with a busybox
#              initramfs (linux-init: xen-netfront, busybox httpd on a tmpfs)
# For each: (a) seconds from `xl create` to the first ping dom0 gets answered, (b) to the first
# HTTP answer, (c) download (guest -> dom0) and upload (dom0 -> guest) of BENCH_BYTES over
# HTTP, BENCH_RUNS times (median), with counters around them, (d) the smallest memory= of
# BENCH_MEMS that boots and serves a BENCH_MEM_BYTES download, (e) image bytes.
#
# Results are "xen-test: info bench GUEST KEY VALUE..." lines that tools/xenbench/report.sh
# turns into the table; every measurement that worked is also a PASS, every one that did not
# a FAIL. The payload (laid out by mk/xen.mk) holds this script, linux-init, httpd.elf,
# httpd.cfg, bench.env and bin/xenpeer. Needs run.sh --linux-domu.
. /usr/lib/xentest/lib.sh
cd /payload || exit 1
export PATH="/payload/bin:$PATH"
# shellcheck source=/dev/null
. ./bench.env
BENCH_BYTES=${BENCH_BYTES:-67108864}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_MEMS=${BENCH_MEMS:-16 24 32 48 64 96 128}
BENCH_MEM_BYTES=${BENCH_MEM_BYTES:-8388608}
BENCH_LINUX_MEM=${BENCH_LINUX_MEM:-256}

IP=10.0.0.2
U_CFG=httpd.cfg
U_NAME=$(xt_cfg_name "$U_CFG")
U_EXTRA="ip=$IP/24 gw=10.0.0.1"
L_NAME=bench-linux
L_CFG=/tmp/bench-linux.cfg
L_INITRD=/tmp/bench-linux.cpio

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

# boot NAME TIMEOUT CFG [KEY=VALUE...] creates the domain and polls until dom0's ping to $IP
# is answered (busybox ping -c1 -W1 in a loop), then until GET / answers. Sets B_CREATE
# (seconds xl create took), B_PING, B_HTTP (seconds from the start of xl create), B_DOMID.
# A crash or triple fault within XT_SETTLE seconds is TCG's (see xt_create) and retried, up
# to XT_CREATE_TRIES times. Returns 0, or 1 with B_WHY set. The domain is left running.
boot() {
	local name=$1 timeout=$2 cfg=$3 try t0 t1 reason o
	shift 3
	B_CREATE='' B_PING='' B_HTTP='' B_DOMID='' B_WHY=''
	for ((try = 1; try <= XT_CREATE_TRIES; try++)); do
		xt_destroy "$name"
		rm -f "$(xt_console_log "$name")" "$(xt_xl_log "$name")"
		# The other guest had the same address and another MAC.
		ip neigh flush dev xenbr0 >/dev/null 2>&1
		t0=$EPOCHREALTIME
		if ! o=$(xl create "$cfg" "$@" 2>&1); then
			# The first error, without its "xc: error: panic: file.c:NNN: fn: " prefix.
			B_WHY="xl create failed: $({ grep -m 1 -i 'error' <<<"$o" || tail -n 1 <<<"$o"; } |
				sed -E 's/^(libxl|xc): error: (panic: )?//; s/^[a-z_]+\.c:[0-9]+: //; s/^[a-z_]+: //')"
			return 1
		fi
		t1=$EPOCHREALTIME
		B_CREATE=$(since "$t0" "$t1")
		B_DOMID=$(xt_created_domid "$name")
		local phase=ping checked=0
		while :; do
			if [ $phase = ping ] && busybox ping -4 -c 1 -W 1 "$IP" >/dev/null 2>&1; then
				B_PING=$(since "$t0")
				phase=http
			fi
			if [ $phase = http ] &&
				curl -s -o /dev/null --connect-timeout 1 --max-time 3 "http://$IP/"; then
				B_HTTP=$(since "$t0")
				return 0
			fi
			reason=$(xt_shutdown_reason "$name")
			case $reason in
			running) ;;
			crash | triple_fault)
				if [ "$(since "$t1" | cut -d. -f1)" -lt "$XT_SETTLE" ] && [ $try -lt "$XT_CREATE_TRIES" ]; then
					echo "xen-test: retry $name ($try/$XT_CREATE_TRIES): $reason right after start"
					continue 2
				fi
				B_WHY="domain $reason after $(since "$t0")s"
				return 1
				;;
			*)
				B_WHY="domain gone ($reason) after $(since "$t0")s"
				return 1
				;;
			esac
			# A guest that died without shutting down (the Go runtime out of memory hangs
			# after saying so on port 0xe9). xl dmesg reads 1 MiB: only every 5 s.
			if [ $((SECONDS - checked)) -ge 5 ]; then
				checked=$SECONDS
				o=$({ xt_debugcon "$B_DOMID"; cat "$(xt_console_log "$name")" 2>/dev/null; } |
					grep -m 1 -E '^(fatal error|panic):|Kernel panic|Out of memory')
				if [ -n "$o" ]; then
					B_WHY="after $(since "$t0")s: $o"
					return 1
				fi
			fi
			if [ "$(since "$t0" | cut -d. -f1)" -ge "$timeout" ]; then
				B_WHY="no ${phase} answer within ${timeout}s"
				return 1
			fi
			# The loops share dom0's one vCPU with the booting guest: do not spin.
			sleep 0.2
		done
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

# upload URL FILE BYTES SHA256 POSTs FILE and prints the rate in MiB/s (size over the time to
# the answer) if the guest answers "BYTES SHA256"; prints why and returns 1 otherwise.
upload() {
	local o body size speed
	o=$(curl -sS --fail --max-time 900 -H 'Expect:' -H 'Content-Type: application/octet-stream' \
		--data-binary "@$2" -w '\n%{size_upload} %{speed_upload}\n' "$1" 2>&1) ||
		{ echo "curl: $(tail -n 1 <<<"$o")"; return 1; }
	body=$(head -n 1 <<<"$o" | tr -d '\r')
	read -r size speed <<<"$(tail -n 1 <<<"$o")"
	[ "$body" = "$3 $4" ] || { echo "answer '$body', want '$3 $4'"; return 1; }
	awk -v s="$speed" 'BEGIN { printf "%.2f\n", s / 1048576 }'
}

# upload_tcp HOST:PORT FILE BYTES SHA256 sends FILE over TCP with socat (64 KiB writes, then a
# half-close) to a sink that hashes what it reads and answers the SHA-256 (Linux's
# `nc -l -e sha256sum`); prints BYTES over the time to the answer in MiB/s if the hash matches,
# prints why and returns 1 otherwise.
upload_tcp() {
	local t0 t1 o
	t0=$EPOCHREALTIME
	o=$(socat -b 65536 -t 900 -T 900 STDIO "TCP:$1,connect-timeout=10" <"$2" 2>&1) ||
		{ echo "socat: $(tail -n 1 <<<"$o")"; return 1; }
	t1=$EPOCHREALTIME
	[ "${o%% *}" = "$4" ] || { echo "answer '$(head -c 100 <<<"$o")', want '$4'"; return 1; }
	awk -v n="$3" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", n / (b - a) / 1048576 }'
}

# --- counters: snapshots are "key value" lines; delta prints "key=after-before" ------------

# snap_vif DOMID: dom0's view of the guest's vif (rx = from the guest) and dom0's TCP; fails,
# printing why last, when a counter cannot be read.
snap_vif() {
	local d=/sys/class/net/vif$1.0/statistics f v
	for f in rx_packets rx_bytes tx_packets tx_bytes; do
		v=$(cat "$d/$f" 2>&1) || { echo "$d/$f: $v"; return 1; }
		echo "vif_$f $v"
	done
	snmp_tcp </proc/net/snmp | sed 's/^/dom0_/'
}

# snmp_tcp reads /proc/net/snmp and prints its Tcp fields as "tcp_Name value".
snmp_tcp() {
	awk '$1 == "Tcp:" { if (!n) { for (i = 2; i <= NF; i++) k[i] = $i; n = 1 } else for (i = 2; i <= NF; i++) print "tcp_" k[i], $i }'
}

# snap_guest GUEST: the guest's own counters, over HTTP. Unikernel: /metrics summed over
# queues (dir kept); Linux: the Tcp line of /proc/net/snmp and eth0 of /proc/net/dev.
snap_guest() {
	local m
	if [ "$1" = unikernel ]; then
		m=$(curl -sS --fail --max-time 30 "http://$IP/metrics" 2>&1) || { echo "/metrics: $m"; return 1; }
		awk '/^#/ || NF < 2 { next }
			{ k = $1; d = ""; if (match(k, /dir="[a-z]+"/)) d = "_" substr(k, RSTART + 5, RLENGTH - 6)
			  sub(/[{].*/, "", k); s[k d] += $NF }
			END { for (k in s) print k, s[k] }' <<<"$m"
	else
		m=$(curl -sS --fail --max-time 30 "http://$IP/cgi-bin/stats" 2>&1) || { echo "/cgi-bin/stats: $m"; return 1; }
		snmp_tcp <<<"$m"
		awk '$1 == "eth0:" { print "eth0_rx_bytes", $2; print "eth0_rx_packets", $3;
			print "eth0_tx_bytes", $10; print "eth0_tx_packets", $11 }' <<<"$m"
	fi
}

# delta BEFORE AFTER KEYS prints "KEY=after-before" for each of the blank-separated KEYS; a
# key missing from either snapshot is printed "KEY=" (report.sh shows n/a) and fails delta.
delta() {
	awk -v keys="${3//$'\n'/ }" 'FILENAME == ARGV[1] { b[$1] = $2; next } { a[$1] = $2 }
		END { n = split(keys, k, " ")
			for (i = 1; i <= n; i++) {
				printf "%s%s=", (i > 1 ? " " : ""), k[i]
				if (k[i] in a && k[i] in b) printf "%.0f", a[k[i]] - b[k[i]]; else bad = 1
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

# out_deltas GUEST WHAT BEFORE AFTER WHY prints the result lines dom0_WHAT and counters_WHAT
# from two snapshots of counters. WHY, when not empty, says why a snapshot failed: that, or a
# counter missing from one of them, is a FAIL.
out_deltas() {
	local guest=$1 what=$2 c0=$3 c1=$4 why=$5 keys=$L_KEYS d r=0
	[ "$guest" = unikernel ] && keys=$U_KEYS
	if [ -n "$why" ]; then
		xt_fail "bench $guest counters around the ${what}s" "$why"
		return
	fi
	d=$(delta "$c0" "$c1" "$VIF_KEYS") || r=1
	out "$guest" "dom0_$what" "$d"
	d=$(delta "$c0" "$c1" "$keys") || r=1
	out "$guest" "counters_$what" "$d"
	if [ $r -ne 0 ]; then
		xt_fail "bench $guest counters around the ${what}s" \
			"missing from a snapshot: $(delta "$c0" "$c1" "$VIF_KEYS $keys" | tr ' ' '\n' | grep '=$' | tr '\n' ' ')"
	fi
}

VIF_KEYS="vif_rx_packets vif_rx_bytes vif_tx_packets vif_tx_bytes dom0_tcp_OutSegs dom0_tcp_InSegs dom0_tcp_RetransSegs"
U_KEYS="tamaxen_netfront_packets_total_tx tamaxen_netfront_bytes_total_tx tamaxen_netfront_gso_packets_total_tx
tamaxen_netstack_tx_gso_total tamaxen_netstack_tx_gso_bytes_total tamaxen_netstack_tx_csum_offload_total
tamaxen_netstack_tx_csum_software_total tamaxen_netfront_tx_polled_total tamaxen_netfront_dropped_total_tx
tamaxen_netfront_packets_total_rx tamaxen_netfront_gso_packets_total_rx tamaxen_netstack_rx_validated_total
tamaxen_netfront_rx_csum_blank_total tamaxen_netfront_dropped_total_rx tamaxen_tcp_retransmits_total"
L_KEYS="tcp_OutSegs tcp_InSegs tcp_RetransSegs eth0_tx_packets eth0_tx_bytes eth0_rx_packets eth0_rx_bytes"

# --- one guest, throughput and counters ----------------------------------------------------

# measure GUEST NAME BOOT_TIMEOUT CFG [KEY=VALUE...]: (a), (b) and (c) for one guest.
measure() {
	local guest=$1 name=$2 timeout=$3 cfg=$4 i r rates c0 c1 why path
	shift 4
	if ! boot "$name" "$timeout" "$cfg" "$@"; then
		xt_fail "bench $guest boot" "$B_WHY"
		sed "s/^/xen-test: info $guest console: /" "$(xt_console_log "$name")" 2>/dev/null | tail -n 15
		xt_destroy "$name"
		return 1
	fi
	xt_pass "bench $guest boot: ping after ${B_PING}s, HTTP after ${B_HTTP}s (xl create ${B_CREATE}s)"
	out "$guest" create_s "$B_CREATE"
	out "$guest" ping_s "$B_PING"
	out "$guest" http_s "$B_HTTP"
	local domid=$B_DOMID log
	log=$(xt_console_log "$name")
	if [ "$guest" = linux ] && ! xt_wait_console "$name" "^bench-linux: ready $BENCH_BYTES" 120; then
		xt_fail "bench linux download file" "$(tail -n 3 "$log" | tr '\n' '|')"
	fi

	# (c) download: guest -> dom0.
	path="/download?bytes=$BENCH_BYTES"
	[ "$guest" = linux ] && path=/download
	rates=() why=''
	c0=$(counters "$guest" "$domid") || why="before: $c0"
	for ((i = 1; i <= BENCH_RUNS; i++)); do
		if r=$(download "http://$IP$path" "$BENCH_BYTES"); then rates+=("$r"); else
			xt_fail "bench $guest download run $i" "$r"
		fi
	done
	c1=$(counters "$guest" "$domid") || why="${why:+$why; }after: $c1"
	if [ ${#rates[@]} -gt 0 ]; then
		out "$guest" download_runs "${rates[*]}"
		out "$guest" download_mibs "$(median "${rates[@]}")"
		xt_pass "bench $guest download $((BENCH_BYTES >> 20)) MiB x${#rates[@]}: ${rates[*]} MiB/s"
		out_deltas "$guest" download "$c0" "$c1" "$why"
		if [ "$guest" = unikernel ]; then
			# The console line stats=5s prints, the first one after the downloads.
			local n
			n=$(grep -c ': stats ' "$log")
			for ((i = 0; i < 30; i++)); do
				[ "$(grep -c ': stats ' "$log")" -gt "$n" ] && break
				sleep 0.3
			done
			if [ "$(grep -c ': stats ' "$log")" -gt "$n" ]; then
				out "$guest" stats_line "$(grep ': stats ' "$log" | tail -n 1 | tr -d '\r')"
			else
				xt_fail "bench $guest stats line after the downloads" "none within 9 s (stats=5s): $(tail -n 2 "$log" | tr -d '\r' | tr '\n' '|')"
			fi
		fi
	fi

	# (c) upload: dom0 -> guest, the same file for both guests; the guest hashes it.
	rates=() why=''
	c0=$(counters "$guest" "$domid") || why="before: $c0"
	for ((i = 1; i <= BENCH_RUNS; i++)); do
		if [ "$guest" = unikernel ]; then
			up() { upload "http://$IP/upload" /tmp/bench-upload "$BENCH_BYTES" "$UP_SHA"; }
		else
			up() { upload_tcp "$IP:5001" /tmp/bench-upload "$BENCH_BYTES" "$UP_SHA"; }
		fi
		if r=$(up); then rates+=("$r"); else
			xt_fail "bench $guest upload run $i" "$r"
		fi
	done
	c1=$(counters "$guest" "$domid") || why="${why:+$why; }after: $c1"
	if [ ${#rates[@]} -gt 0 ]; then
		out "$guest" upload_runs "${rates[*]}"
		out "$guest" upload_mibs "$(median "${rates[@]}")"
		xt_pass "bench $guest upload $((BENCH_BYTES >> 20)) MiB x${#rates[@]}: ${rates[*]} MiB/s"
		out_deltas "$guest" upload "$c0" "$c1" "$why"
	fi
	xt_destroy "$name"
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
			xt_pass "bench $guest smallest memory: $m MiB (ping ${B_PING}s, HTTP ${B_HTTP}s, $r MiB/s)"
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
out env params "bytes=$BENCH_BYTES runs=$BENCH_RUNS mems=${BENCH_MEMS// /,} mem_bytes=$BENCH_MEM_BYTES linux_mem=$BENCH_LINUX_MEM"

if [ ! -f "$XT_LINUX_KERNEL" ]; then
	xt_fail "bench linux" "no $XT_LINUX_KERNEL (run.sh needs --linux-domu)"
	xt_finish
	exit
fi
xt_linux_initrd "$L_INITRD" ./linux-init || xt_fail "bench linux initrd" "cannot build $L_INITRD"
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
	i_size=$(stat -c %s "$L_INITRD" 2>&1); then
	out unikernel size_bytes "$u_size"
	out unikernel size_detail "httpd.elf $u_size"
	out linux size_bytes $((k_size + i_size))
	out linux size_detail "vmlinux $k_size + initramfs $i_size (busybox, $(find /lib/modules -name 'xen-netfront.ko*' | head -n 1 | xargs -r basename) and deps, init)"
else
	xt_fail "bench image sizes" "httpd.elf '$u_size', vmlinux '$k_size', initramfs '$i_size'"
fi
out unikernel memory_mib "$(sed -n 's/^[[:space:]]*memory[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$U_CFG")"
out linux memory_mib "$BENCH_LINUX_MEM"

# The upload body, the same for both guests, and its SHA-256.
xenpeer pattern -bytes "$BENCH_BYTES" >/tmp/bench-upload
UP_SHA=$(sha256sum /tmp/bench-upload | cut -d' ' -f1)

measure unikernel "$U_NAME" 90 "$U_CFG" "extra=\"$U_EXTRA stats=5s\""
measure linux "$L_NAME" 240 "$L_CFG"
rm -f /tmp/bench-upload
minmem unikernel "$U_NAME" 45 "$U_CFG" "extra=\"$U_EXTRA\""
minmem linux "$L_NAME" 150 "$L_CFG" "extra=\"console=hvc0 quiet panic=1 xbench_bytes=$BENCH_MEM_BYTES\""
xt_finish
