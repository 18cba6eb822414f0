#!/usr/bin/env bash
# run.sh — boot the QEMU/Xen test image with a test payload and report its verdict.
#
# Usage: tools/xenimage/run.sh [options] PAYLOAD_DIR
#        tools/xenimage/run.sh [options] --shell
#   --timeout SECONDS   kill QEMU after this long (default 600, or $XEN_TIMEOUT); 0 runs
#                       until the payload powers off or Ctrl-C (for payloads that serve)
#   --xen VERSION       the Xen release of the image: 4.17 (default) or 4.20 (see build.sh);
#                       also taken from $XEN_VERSION
#   --linux-domu        also load the image's vmlinux as /usr/lib/xentest/linux/vmlinux, for
#                       payloads that boot Linux PVH domUs (adds ~66 MB to load)
#   --log FILE          serial log (default build/xen-test.log in the repository)
#   --show REGEX        also print serial lines matching REGEX (e.g. '^\(d[0-9]+\)' for what
#                       guests write to port 0xe9); --verbose prints every line
#   --xen-args ARGS     appended to Xen's command line
#   --dom0-args ARGS    appended to dom0's kernel command line (no commas: QEMU splits on them)
#   --hostfwd RULE      give dom0 a NIC on QEMU's user network (dom0 10.0.2.15, host 10.0.2.2)
#                       and forward a host port to it, RULE in QEMU's hostfwd syntax, e.g.
#                       tcp:127.0.0.1:8080-:80; repeatable. Without it dom0 has no NIC.
#   --shell             no payload: a root shell in dom0 on this terminal (exit it to power
#                       off; Ctrl-C kills QEMU)
# Environment: XEN_TIMEOUT (default of --timeout), XEN_QEMU_MEM (QEMU memory in MiB, 3072;
# dom0 always has 1024 of it, the rest is for domUs), XEN_BOOT_TRIES (3: boots tried when
# dom0's kernel panics before dom0 is ready, each said in a `xen-test: retry boot` line).
#
# PAYLOAD_DIR is packed as /payload into a cpio appended to the image's initramfs; dom0 runs
# /payload/test.sh (see dom0/lib.sh for the helpers it gets). Stdout carries the payload's
# "xen-test: ..." lines as they arrive and a final "N passed, M failed" line; progress with
# timestamps goes to stderr. Exit status 0 only if at least one check passed and none failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/host.sh
. "$here/lib/host.sh"

timeout=${XEN_TIMEOUT:-600}
linux_domu=
shell=
log=
show=
xen_extra=
dom0_extra=
hostfwd=
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) timeout=$2; shift ;;
	--xen) export XEN_VERSION=$2; shift ;;
	--linux-domu) linux_domu=1 ;;
	--log) log=$2; shift ;;
	--show) show=$2; shift ;;
	--verbose) show=. ;;
	--xen-args) xen_extra=$2; shift ;;
	--dom0-args) dom0_extra=$2; shift ;;
	--hostfwd)
		case $2 in '' | *[,\ ]*) xi_die "--hostfwd wants one rule without commas or spaces" ;; esac
		hostfwd+=",hostfwd=$2"
		shift
		;;
	--shell) shell=1 ;;
	-h | --help) sed -n '2,29p' "$0"; exit 0 ;;
	-*) xi_die "unknown option: $1" ;;
	*) break ;;
	esac
	shift
done
if [ -n "$shell" ]; then
	[ $# -eq 0 ] || xi_die "--shell takes no payload"
else
	[ $# -eq 1 ] || xi_die "usage: run.sh [options] PAYLOAD_DIR (see --help)"
	payload=$(cd "$1" && pwd) || xi_die "no payload folder $1"
	[ -f "$payload/test.sh" ] || xi_die "$payload has no test.sh"
fi
case $timeout in '' | *[!0-9]*) xi_die "--timeout wants whole seconds" ;; esac
case $dom0_extra in *,*) xi_die "--dom0-args cannot contain commas" ;; esac

repo=$(xi_repo_root)
log=${log:-$repo/build/xen-test.log}
mkdir -p "$repo/build" "$(dirname "$log")"
# Two runs must not share a serial log: the second one gets a log of its own.
exec {lockfd}>"$log.lock"
if ! flock -n "$lockfd"; then
	xi_log "$log is in use by another run; this run logs to ${log%.log}.$$.log"
	log=${log%.log}.$$.log
fi

# --- image and initramfs -------------------------------------------------------------------
img=$("$here/build.sh")
# shellcheck source=/dev/null
. "$img/image.env"
xi_log "image ready: $img (Xen $XEN_IMAGE_XEN_VERSION, Linux $XEN_IMAGE_KERNEL_RELEASE)"
# Results name the Xen they ran on: this line first, the version again in the summary.
xen_ran="Xen ${XEN_IMAGE_XEN_VERSION%%[+-]*}, dom0 Linux $XEN_IMAGE_KERNEL_RELEASE"
echo "xen-test: info image: $xen_ran (Debian packages $XEN_IMAGE_XEN_VERSION)"
xi_need_pkgs qemu-system-x86 cpio

work=$(mktemp -d "$repo/build/.xen-run.XXXXXX")
qpid=
cleanup() {
	if [ -n "$qpid" ]; then
		kill "$qpid" 2>/dev/null
		wait "$qpid" 2>/dev/null # gone before we are: callers may start the next QEMU at once
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/root/payload"
[ -n "$shell" ] || cp -a "$payload/." "$work/root/payload/"
(cd "$work/root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$work/payload.cpio"
parts=("$img/$XEN_IMAGE_INITRD")
[ -n "$linux_domu" ] && parts+=("$img/$XEN_IMAGE_LINUX_DOMU")
# Linux unpacks concatenated archives; every part but the last is padded to 512 bytes.
cat "${parts[@]}" "$work/payload.cpio" >"$work/initrd"
for f in "$img/$XEN_IMAGE_KERNEL" "$work/initrd"; do
	case $f in *[,\ ]*) xi_die "QEMU cannot take a module path with a comma or space: $f" ;; esac
done

# --- QEMU ----------------------------------------------------------------------------------
# No KVM here: TCG with nested SVM and NPT, since Debian's Xen has no shadow paging and needs
# HAP to run HVM/PVH guests. -no-reboot turns a Xen reboot or panic into a QEMU exit.
xen_args="console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=1"
xen_args+=" loglvl=all guest_loglvl=all conring_size=1m $xen_extra"
dom0_args="console=hvc0 quiet $dom0_extra"
qemu=(qemu-system-x86_64 -machine pc -accel tcg -cpu qemu64,+svm,+npt,+rdrand
	-m "${XEN_QEMU_MEM:-3072}" -smp 1 -display none -monitor none -no-reboot
	-kernel "$img/$XEN_IMAGE_XEN" -append "$xen_args"
	-initrd "$img/$XEN_IMAGE_KERNEL $dom0_args,$work/initrd")
if [ -n "$hostfwd" ]; then
	# e1000: dom0's kernel has its driver (recipe.conf XI_UPLINK_MODULES), and dom0 sets it up.
	qemu+=(-nic "user,model=e1000$hostfwd")
else
	qemu+=(-nic none)
fi

: >"$log"
if [ -n "$shell" ]; then
	xi_log "QEMU starting with dom0's console on this terminal (serial log $log)"
	"${qemu[@]}" -chardev "stdio,id=con,logfile=$log" -serial chardev:con
	exit
fi
qemu+=(-serial "file:$log")
limit="timeout ${timeout}s"
[ "$timeout" -gt 0 ] || limit="no timeout, Ctrl-C stops it"

# timer SECONDS FUNCTION runs FUNCTION in the background after SECONDS unless killed first;
# killing it also ends its sleep, so no stray process holds our stdout open.
timer() {
	(
		exec </dev/null >/dev/null 2>&1
		sleep "$1" &
		s=$!
		trap 'kill $s; exit 0' TERM
		wait $s && "$2"
	) &
}
# The watchdog kills QEMU at the deadline and leaves a mark so the verdict can say why.
on_timeout() {
	touch "$work/timed-out"
	kill "$qpid"
}
stop_qemu() {
	kill "$qpid"
}

# boot runs QEMU once, printing and counting the payload's results as they arrive. A dom0
# kernel that panics before dom0 is ready never ran the payload: that boot is marked
# (early_panic) and stopped, and the caller may boot again. Debian 13's kernel, as a PV dom0
# under TCG, dies so about one boot in ten, in its earliest code (text_poke_early); this is
# QEMU's emulation, not the payload.
boot() {
	: >"$log"
	rm -f "$work/timed-out"
	passed=0 failed=0 summary="" grace="" ready="" early_panic=""
	"${qemu[@]}" </dev/null >"$work/qemu.out" 2>&1 &
	qpid=$!
	xi_log "QEMU started (pid $qpid, $limit, serial log $log)"
	watchdog=
	if [ "$timeout" -gt 0 ]; then
		timer "$timeout" on_timeout
		watchdog=$!
	fi
	while IFS= read -r line; do
		# The dom0 tty and Xen's console each turn \n into \r\n.
		while [[ $line == *$'\r' ]]; do line=${line%$'\r'}; done
		case $line in
		"xen-test: PASS "*) passed=$((passed + 1)); printf '%s\n' "$line" ;;
		"xen-test: FAIL "*) failed=$((failed + 1)); printf '%s\n' "$line" ;;
		"xen-test: info dom0: ready"*) ready=1; xi_log "dom0 ready"; printf '%s\n' "$line" ;;
		"xen-test: "*) printf '%s\n' "$line" ;;
		*"(XEN) Xen version "*) xi_log "Xen booting: ${line#*Xen version }" ;;
		*"(XEN) *** Building a "*" Dom0 ***"*) xi_log "Xen building dom0" ;;
		*"(XEN) Freed "*" init memory"*) xi_log "dom0 kernel started" ;;
		*"Panic on CPU"* | *"Kernel panic"*)
			if [ -z "$ready" ] && [[ $line == *"Kernel panic"* ]]; then
				early_panic=$line
				xi_log "dom0 panicked before it was ready: $line"
				kill "$qpid" 2>/dev/null || true # it may have ended already
			else
				printf 'xen-test: FAIL panic: %s\n' "$line"
				failed=$((failed + 1))
			fi
			;;
		[0-9]*" passed, "[0-9]*" failed"*)
			summary=$line
			xi_log "payload finished: $line"
			# poweroff should end QEMU within seconds; do not wait for the full timeout if not.
			if [ -z "$grace" ]; then
				timer 30 stop_qemu
				grace=$!
			fi
			;;
		esac
		if [ -n "$show" ] && [[ $line =~ $show ]] && [[ $line != "xen-test: "* ]]; then
			printf '%s\n' "$line"
		fi
	done < <(tail -n +1 -F --pid="$qpid" "$log" 2>/dev/null)

	qrc=0
	wait "$qpid" || qrc=$?
	qpid=
	kill ${watchdog:+"$watchdog"} ${grace:+"$grace"} 2>/dev/null || true
	xi_log "QEMU exited (status $qrc)"
}

tries=${XEN_BOOT_TRIES:-3}
case $tries in '' | *[!0-9]* | 0) xi_die "XEN_BOOT_TRIES wants a whole number of boots, 1 or more" ;; esac
for try in $(seq "$tries"); do
	boot
	[ -n "$early_panic" ] && [ "$try" -lt "$tries" ] || break
	cp "$log" "${log%.log}.panic$try.log"
	echo "xen-test: retry boot ($try/$tries): dom0 panicked before it was ready, the payload did not run: $early_panic (serial log: ${log%.log}.panic$try.log)"
done

if [ -n "$early_panic" ]; then
	echo "xen-test: FAIL panic: dom0 panicked before it was ready on all $tries boots: $early_panic (serial log: $log)"
	failed=$((failed + 1))
elif [ -e "$work/timed-out" ]; then
	echo "xen-test: FAIL timeout: no result after ${timeout}s (serial log: $log)"
	failed=$((failed + 1))
elif [ -z "$summary" ]; then
	echo "xen-test: FAIL harness: QEMU exited (status $qrc) before the payload finished (serial log: $log)"
	sed 's/^/qemu: /' "$work/qemu.out" >&2
	failed=$((failed + 1))
fi
echo "$passed passed, $failed failed on $xen_ran"
[ "$passed" -ge 1 ] && [ "$failed" -eq 0 ]
