#!/bin/bash
# test.sh — self-test of the QEMU/Xen image: its Xen release with HAP, and a Linux PVH domU on xenbr0.
#
# Needs the image's kernel as a guest: run with `run.sh --linux-domu tools/xenimage/selftest`
# (or `make -f mk/xen.mk xen-selftest`).
. /usr/lib/xentest/lib.sh

# --- the hypervisor ------------------------------------------------------------------------
info=$(xl info)
field() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' <<<"$info"; }
ver="$(field xen_major).$(field xen_minor)"
want=$(cat /usr/lib/xentest/xen-release 2>/dev/null)
if [ -n "$want" ] && [ "$ver" = "$want" ]; then
	xt_pass "xen-version ($ver)"
else
	xt_fail xen-version "xl info reports Xen '$ver', the image was built for '$want'"
fi
xt_info "xen_caps: $(field xen_caps)"
xt_info "virt_caps: $(field virt_caps)"
if [[ " $(field virt_caps) " == *" hap "* ]] && [[ $(field xen_caps) == *hvm-3.0-x86_64* ]]; then
	xt_pass hap-available
else
	xt_fail hap-available "virt_caps '$(field virt_caps)' / xen_caps '$(field xen_caps)' lack hap or hvm"
fi

# --- the early-crash path: a guest that always triple-faults --------------------------------
# xt_create must retry it, give up after XT_CREATE_TRIES, and report it as triple_fault. Xen
# makes a triple fault a reboot, so on_reboot = "preserve" is what keeps the corpse.
name=selftest-fault
./triple-fault-elf.sh /tmp/$name.elf
cat >/tmp/$name.cfg <<CFG
name = "$name"
type = "pvh"
kernel = "/tmp/$name.elf"
memory = 16
vcpus = 1
on_poweroff = "destroy"
on_reboot = "preserve"
on_crash = "preserve"
CFG
xt_create /tmp/$name.cfg | tee /tmp/$name.out
rc=${PIPESTATUS[0]}
retries=$(grep -c "^xen-test: retry $name " /tmp/$name.out)
if [ "$rc" = 2 ] && [ "$retries" = $((XT_CREATE_TRIES - 1)) ]; then
	xt_pass early-crash-retried
else
	xt_fail early-crash-retried "xt_create returned $rc after $retries retries, want 2 after $((XT_CREATE_TRIES - 1))"
fi
reason=$(xt_shutdown_reason $name)
state=$(xl list $name 2>/dev/null | awk 'NR == 2 { print $5 }')
if [ "$reason" = triple_fault ] && [[ $state == *[sc]* ]]; then
	xt_pass triple-fault-preserved
else
	xt_fail triple-fault-preserved "shutdown reason '$reason', xl state '$state', want triple_fault and a preserved domain"
fi
domid=$(xt_logged_domid $name)
if xt_wait_debugcon "$domid" '^selftest-fault: hello on port 0xe9$' 10; then
	xt_pass debugcon-port-0xe9
else
	xt_fail debugcon-port-0xe9 "no (d$domid) line in xl dmesg: $(xl dmesg | grep -c "^(d$domid)") lines"
fi
xt_destroy $name

# --- a Linux PVH domU on xenbr0 --------------------------------------------------------------
name=selftest-linux
if [ ! -f "$XT_LINUX_KERNEL" ]; then
	xt_fail linux-domu "no $XT_LINUX_KERNEL (run.sh needs --linux-domu)"
	xt_finish
	exit
fi
xt_linux_initrd /tmp/selftest-domu.cpio ./domu-init || xt_fail linux-initrd "cannot build the domU initramfs"
cat >/tmp/$name.cfg <<CFG
name = "$name"
type = "pvh"
kernel = "$XT_LINUX_KERNEL"
ramdisk = "/tmp/selftest-domu.cpio"
extra = "console=hvc0 quiet"
memory = 256
vcpus = 1
vif = [ "mac=00:16:3e:00:00:02,bridge=xenbr0" ]
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "preserve"
CFG

if ! xt_create /tmp/$name.cfg; then
	xt_fail xl-create "xl create $name failed"
	xt_finish
	exit
fi
xt_pass xl-create
xt_info "xl create took ${XT_CREATE_SECONDS}s"

if [ -e "/sys/class/net/xenbr0/brif/vif$XT_DOMID.0" ]; then
	xt_pass vif-on-xenbr0
else
	xt_fail vif-on-xenbr0 "vif$XT_DOMID.0 is not a port of xenbr0: $(ls /sys/class/net/xenbr0/brif)"
fi

log=$(xt_console_log $name)
t0=$SECONDS
if xt_wait_console $name '^selftest-domu: hello' 180; then
	xt_pass linux-domu-console
	xt_info "domU marker after $((SECONDS - t0))s: $(grep -m1 '^selftest-domu: hello' "$log")"
else
	xt_fail linux-domu-console "no hello in $log (domain $(xt_shutdown_reason $name)): $(tail -n 5 "$log" | tr '\n' '|')"
fi
for target in 10.0.0.1 fd00::1; do
	if xt_wait_console $name "^selftest-domu: ping $target (ok|failed)" 60 &&
		grep -q "^selftest-domu: ping $target ok" "$log"; then
		xt_pass "domu-ping-$target"
	else
		xt_fail "domu-ping-$target" "$(grep "^selftest-domu: ping $target" "$log" || echo 'no ping result')"
	fi
done

reason=$(xt_wait_shutdown $name 60)
if [ "$reason" = poweroff ]; then
	xt_pass domu-poweroff
else
	xt_fail domu-poweroff "shutdown reason $reason"
	sed 's/^/console: /' "$log"
fi
xt_wait_gone $name 30 || xt_fail domu-destroyed "$name still exists after poweroff"

xt_finish
