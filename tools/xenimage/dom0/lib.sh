# lib.sh — helpers for test payloads in the tamaxen test dom0 (/usr/lib/xentest/lib.sh).
# shellcheck shell=bash
#
# A payload is a folder with test.sh at its top; run.sh puts it at /payload and dom0's init
# runs `cd /payload && bash ./test.sh`, which starts with `. /usr/lib/xentest/lib.sh` and
# ends with xt_finish. Results are lines on the console:
#     xen-test: PASS <name>
#     xen-test: FAIL <name>: <why>
#     xen-test: retry <what>: <why>       (informational)
#     xen-test: info <text>               (informational)
#     N passed, M failed                  (xt_finish, last line)
# Every function is bash and prefixed xt_. Domains are named by their xl `name`.

XT_RESULTS=${XT_RESULTS:-/run/xentest/results}   # one line per PASS/FAIL, counted by xt_finish
XT_CONSOLE_DIR=/var/log/xen/console               # xenconsoled --log-dir
XT_LINUX_KERNEL=/usr/lib/xentest/linux/vmlinux    # present with run.sh --linux-domu
XT_CREATE_TRIES=${XT_CREATE_TRIES:-3}             # xl create attempts on early crashes
XT_SETTLE=${XT_SETTLE:-3}                         # seconds watched for an early crash;
                                                  # 0 for guests meant to crash at once
mkdir -p "${XT_RESULTS%/*}"

# --- results -------------------------------------------------------------------------------

# xt_pass NAME
xt_pass() {
	echo "xen-test: PASS $1" | tee -a "$XT_RESULTS"
}

# xt_fail NAME WHY...
xt_fail() {
	local name=$1
	shift
	echo "xen-test: FAIL $name: ${*:-failed}" | tee -a "$XT_RESULTS"
}

# xt_info TEXT...
xt_info() {
	echo "xen-test: info $*"
}

# xt_check NAME CMD [ARG...] passes NAME if the command succeeds, else fails it with the
# command's last output line.
xt_check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		xt_pass "$name"
	else
		xt_fail "$name" "\`$*\` failed: $(printf '%s' "$out" | tail -n 1)"
	fi
}

# xt_finish prints "N passed, M failed" and powers the machine off (set XT_NO_POWEROFF=1 to
# only print). XT_QUIET=1 prints nothing when there were no results (interactive use).
xt_finish() {
	local passed failed
	passed=$(grep -c '^xen-test: PASS ' "$XT_RESULTS" 2>/dev/null)
	failed=$(grep -c '^xen-test: FAIL ' "$XT_RESULTS" 2>/dev/null)
	if [ -z "$XT_QUIET" ] || [ "${passed:-0}${failed:-0}" != 00 ]; then
		echo "${passed:-0} passed, ${failed:-0} failed"
	fi
	[ -n "$XT_NO_POWEROFF" ] && return 0
	sync
	# minbase has no poweroff; busybox's calls reboot(2) directly.
	busybox poweroff -f
}

# --- domains -------------------------------------------------------------------------------

# xt_cfg_name CFG prints the `name` of an xl config file.
xt_cfg_name() {
	sed -n 's/^[[:space:]]*name[[:space:]]*=[[:space:]]*["'\'']\([^"'\'']*\)["'\''].*/\1/p' "$1" | head -n 1
}

# xt_domid NAME prints the domain id, or fails when no such domain exists.
xt_domid() {
	xl domid "$1" 2>/dev/null
}

# xt_console_log NAME prints the path of the domain's PV console log.
xt_console_log() {
	echo "$XT_CONSOLE_DIR/guest-$1.log"
}

# xt_xl_log NAME prints the path of the log of the `xl create` child that watches NAME.
xt_xl_log() {
	echo "/var/log/xen/xl-$1.log"
}

# xt_reason_word CODE maps Xen's SHUTDOWN_* code to a word.
xt_reason_word() {
	case $1 in
	0) echo poweroff ;; 1) echo reboot ;; 2) echo suspend ;; 3) echo crash ;;
	4) echo watchdog ;; 5) echo soft_reset ;; *) echo "unknown($1)" ;;
	esac
}

# xt_logged_domid NAME prints the domain id that the xl log of NAME records.
xt_logged_domid() {
	sed -n 's/.*(domid \([0-9]*\)).*/\1/p' "$(xt_xl_log "$1")" 2>/dev/null | head -n 1
}

# xt_shutdown_reason NAME prints how the domain last shut down: poweroff, reboot, suspend,
# crash, watchdog, soft_reset, or triple_fault; "running" if it has not shut down yet;
# "none" if nothing is known. Works for destroyed domains too: the reason comes from the xl
# log that xl create left. Xen turns a PVH guest's triple fault into a *reboot* (HVM
# shutdown action 1), so on_crash = "preserve" does not keep such a guest, and with
# on_reboot = "destroy" it simply vanishes; Xen's log tells the two apart, so a reboot or
# crash with a "dNvM Triple fault" line in `xl dmesg` is reported as triple_fault.
xt_shutdown_reason() {
	local name=$1 code reason domid
	code=$(sed -n 's/.*has shut down, reason code \([0-9]*\).*/\1/p' "$(xt_xl_log "$name")" 2>/dev/null | tail -n 1)
	if [ -z "$code" ]; then
		if xt_domid "$name" >/dev/null; then echo running; else echo none; fi
		return 0
	fi
	reason=$(xt_reason_word "$code")
	case $reason in
	reboot | crash)
		domid=$(xt_logged_domid "$name")
		if [ -n "$domid" ] && xl dmesg | grep -q "d${domid}v[0-9]* Triple fault"; then
			reason=triple_fault
		fi
		;;
	esac
	echo "$reason"
}

# xt_wait_shutdown NAME [TIMEOUT=60] waits until the domain shuts down, then prints the
# reason as xt_shutdown_reason does; returns 1 (printing "running") on timeout.
xt_wait_shutdown() {
	local name=$1 timeout=${2:-60} end reason
	end=$((SECONDS + timeout))
	while :; do
		reason=$(xt_shutdown_reason "$name")
		[ "$reason" != running ] && { echo "$reason"; return 0; }
		[ $SECONDS -ge "$end" ] && { echo running; return 1; }
		sleep 0.5
	done
}

# xt_wait_gone NAME [TIMEOUT=60] waits until no domain is called NAME.
xt_wait_gone() {
	local name=$1 timeout=${2:-60} end
	end=$((SECONDS + timeout))
	while xt_domid "$name" >/dev/null; do
		[ $SECONDS -ge "$end" ] && return 1
		sleep 0.5
	done
}

# xt_wait_console NAME PATTERN [TIMEOUT=60] waits until the domain's PV console log matches
# the extended regular expression PATTERN. Gives up early once the domain has shut down and
# its log still does not match (xenconsoled flushes before the domain goes away).
xt_wait_console() {
	local name=$1 pattern=$2 timeout=${3:-60} log end
	log=$(xt_console_log "$name")
	end=$((SECONDS + timeout))
	while :; do
		grep -qE -- "$pattern" "$log" 2>/dev/null && return 0
		if [ "$(xt_shutdown_reason "$name")" != running ]; then
			sleep 1
			grep -qE -- "$pattern" "$log" 2>/dev/null
			return
		fi
		[ $SECONDS -ge "$end" ] && return 1
		sleep 0.3
	done
}

# xt_debugcon DOMID prints what the domain wrote to I/O port 0xe9, from Xen's console ring
# ("(dN) text" lines, needs guest_loglvl=all on Xen's command line), without the prefix.
xt_debugcon() {
	xl dmesg | sed -n "s/^(d$1) //p"
}

# xt_wait_debugcon DOMID PATTERN [TIMEOUT=60] waits until the domain's port-0xe9 output
# matches the extended regular expression PATTERN.
xt_wait_debugcon() {
	local domid=$1 pattern=$2 timeout=${3:-60} end
	end=$((SECONDS + timeout))
	until xt_debugcon "$domid" | grep -qE -- "$pattern"; do
		[ $SECONDS -ge "$end" ] && return 1
		sleep 0.5
	done
}

# xt_destroy NAME destroys the domain if it exists.
xt_destroy() {
	local domid
	domid=$(xt_domid "$1") || return 0
	xl destroy "$domid" >/dev/null 2>&1
	xt_wait_gone "$1" 20
}

# xt_early_crash NAME succeeds (printing why) if the domain crashed or triple-faulted within
# XT_SETTLE seconds of being created. TCG occasionally triple-faults a fresh guest right
# after an intercepted instruction; that is QEMU's fault, not the guest's, and worth a retry.
xt_early_crash() {
	local name=$1 end reason
	end=$(($(date +%s%N) + XT_SETTLE * 1000000000))
	while [ "$(date +%s%N)" -lt $end ]; do
		reason=$(xt_shutdown_reason "$name")
		case $reason in
		running | none) sleep 0.2 ;;
		triple_fault) echo "domain $(xt_logged_domid "$name") triple-faulted"; return 0 ;;
		crash) echo "domain $(xt_logged_domid "$name") crashed"; return 0 ;;
		*) return 1 ;;
		esac
	done
	return 1
}

# xt_created_domid NAME prints the id of the domain that xl create just made. `xl domid`
# cannot see a guest that already went away, so fall back to the log of xl's watcher.
xt_created_domid() {
	local domid i
	domid=$(xt_domid "$1") && { echo "$domid"; return 0; }
	for ((i = 0; i < 20; i++)); do
		domid=$(xt_logged_domid "$1")
		[ -n "$domid" ] && { echo "$domid"; return 0; }
		sleep 0.1
	done
	return 1
}

# xt_create CFG [KEY=VALUE...] runs `xl create CFG KEY=VALUE...`, retrying up to
# XT_CREATE_TRIES times in all when the domain crashes within XT_SETTLE seconds (see
# xt_early_crash); each retry prints a "xen-test: retry" line. On success sets XT_NAME,
# XT_DOMID and XT_CREATE_SECONDS (duration of the successful xl create) and prints an info
# line; call it directly, not in $(...), so the variables stay set. A domain of the same name
# is destroyed first, and its console and xl logs are cleared before each try.
# Returns 0 on success, 1 when xl create itself fails (its output is printed), 2 when every
# try crashed early (the last crashed domain is left for inspection; XT_DOMID is its id).
xt_create() {
	local cfg=$1 try t0 t1 why out
	shift
	XT_NAME=$(xt_cfg_name "$cfg")
	XT_DOMID=
	[ -n "$XT_NAME" ] || { xt_info "xt_create: no name in $cfg"; return 1; }
	for ((try = 1; try <= XT_CREATE_TRIES; try++)); do
		xt_destroy "$XT_NAME"
		rm -f "$(xt_console_log "$XT_NAME")" "$(xt_xl_log "$XT_NAME")"
		t0=$EPOCHREALTIME
		if ! out=$(xl create "$cfg" "$@" 2>&1); then
			printf '%s\n' "$out" | sed 's/^/xl: /'
			xt_info "xl create $cfg failed"
			return 1
		fi
		t1=$EPOCHREALTIME
		XT_DOMID=$(xt_created_domid "$XT_NAME")
		XT_CREATE_SECONDS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
		if ! why=$(xt_early_crash "$XT_NAME"); then
			xt_info "created $XT_NAME as domain $XT_DOMID in ${XT_CREATE_SECONDS}s (xl create), $((try - 1)) retries"
			return 0
		fi
		if [ $try -lt "$XT_CREATE_TRIES" ]; then
			echo "xen-test: retry $XT_NAME ($try/$XT_CREATE_TRIES): $why right after start"
		else
			xt_info "$XT_NAME: $why right after start, on all $XT_CREATE_TRIES tries"
		fi
	done
	return 2
}

# --- Linux guests --------------------------------------------------------------------------

# xt_linux_initrd OUT INIT [FILE...] writes a tiny initramfs for a Linux PVH domU booted from
# $XT_LINUX_KERNEL: busybox (with /bin/sh), INIT as /init, the guest modules of this kernel
# (xen-netfront and its dependencies) as /lib/modules/NN-name.ko in load order, and each
# FILE at /. INIT must mount what it needs and end with `poweroff -f`.
xt_linux_initrd() {
	local outfile=$1 init=$2 d i=10 ko f
	shift 2
	d=$(mktemp -d)
	mkdir -p "$d/bin" "$d/dev" "$d/proc" "$d/sys" "$d/tmp" "$d/lib/modules"
	cp /usr/bin/busybox "$d/bin/busybox"
	ln -s busybox "$d/bin/sh"
	mknod "$d/dev/console" c 5 1
	install -m 0755 "$init" "$d/init"
	# Newer Debian kernels ship compressed modules; busybox insmod wants them plain.
	for ko in $(modprobe --show-depends xen-netfront | awk '$1 == "insmod" { print $2 }'); do
		f=${ko##*/}
		case $ko in
		*.ko.xz) busybox unxz -c "$ko" >"$d/lib/modules/$i-${f%.xz}" ;;
		*.ko.gz) gzip -dc "$ko" >"$d/lib/modules/$i-${f%.gz}" ;;
		*) cp "$ko" "$d/lib/modules/$i-$f" ;;
		esac || {
			rm -rf "$d"
			return 1
		}
		i=$((i + 1))
	done
	for f in "$@"; do
		cp -a "$f" "$d/"
	done
	(cd "$d" && find . -mindepth 1 | busybox cpio -o -H newc 2>/dev/null) >"$outfile"
	rm -rf "$d"
	[ -s "$outfile" ]
}
