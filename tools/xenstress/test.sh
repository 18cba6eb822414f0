#!/usr/bin/env bash
# Real-Xen stress of netfront and the stack (`make xen-stress`, docs/reliability.md): boots
# examples/httpd (with stats=5s) in the test dom0 (tools/xenimage) and runs, in order,
#   cycles  XEN_STRESS_CYCLES (100) xl network-detach/attach cycles, each followed by traffic,
#           with grants, goroutines and heap compared after the first and the last (cycles.sh)
#   flap    the backend vif set down and up under a running download (linkflap.sh)
#   soak    XEN_STRESS_SOAK (600) seconds of TCP and UDP both ways, with examples/echo (soak.sh)
#   save    XEN_STRESS_SAVES (2) xl save / xl restore cycles with a download across each, then
#           traffic, grants and goroutines checked (saverestore.sh)
# XEN_STRESS_PHASES picks some of them (`diag` runs the stall recorder once). The payload (laid
# out by mk/xen.mk) holds these
# scripts, stress.env, httpd and echo (ELF and xl config) and bin/{xenpeer,xensoak}.
. /usr/lib/xentest/lib.sh
cd /payload || exit 1
export PATH="/payload/bin:$PATH"
# shellcheck source=/dev/null
[ -f stress.env ] && . ./stress.env
CYCLES=${XEN_STRESS_CYCLES:-100}
SOAK=${XEN_STRESS_SOAK:-600}
SAVES=${XEN_STRESS_SAVES:-2}
PHASES=${XEN_STRESS_PHASES:-cycles flap soak save}
. ./common.sh
. ./cycles.sh
. ./linkflap.sh
. ./soak.sh
. ./saverestore.sh

ST_ECHO='' # set by st_soak
phase_start=$SECONDS
# phase NAME: prints how long the previous phase took and starts timing NAME.
phase() {
	[ -n "$phase_name" ] && xt_info "phase $phase_name took $((SECONDS - phase_start)) s"
	phase_name=$1 phase_start=$SECONDS
	[ -n "$1" ] && xt_info "phase $1"
}
xt_info "xen-stress: phases '$PHASES', $CYCLES cycles, soak $SOAK s"

cfg=httpd.cfg
HTTPD_MAC=$(sed -n 's/.*mac=\([0-9a-fA-F:]*\).*/\1/p' "$cfg" | head -n 1)
extra=$(sed -n 's/^extra *= *"\(.*\)"/\1/p' "$cfg")
HTTPD_IP=$(sed -n 's/.*ip=\([0-9.]*\).*/\1/p' <<<"$extra")
HTTPD_IP=${HTTPD_IP:-10.0.0.2}
URL=http://$HTTPD_IP
if ! xt_create "$cfg" "extra=\"$extra stats=5s\""; then
	xt_fail "httpd boot" "xl create failed"
	xt_finish
	exit
fi
HTTPD=$XT_NAME
HTTPD_LOG=$(xt_console_log "$HTTPD")
if ! xt_wait_console "$HTTPD" '^httpd: ready' 120; then
	xt_fail "httpd ready" "$(tail -n 4 "$HTTPD_LOG" | tr '\n' '|')"
	xt_finish
	exit
fi
xt_pass "httpd ready (domain $XT_DOMID, mac $HTTPD_MAC, $HTTPD_IP)"
# Informational (st_snapshot says why a reading failed); each phase judges its own readings.
st_snapshot "after boot" 1 || true

for p in $PHASES; do
	case $p in
	cycles) phase cycles; st_cycles "$CYCLES" ;;
	flap) phase flap; st_linkflap ;;
	soak) phase soak; st_soak "$SOAK" ;;
	save) phase save; st_saverestore "$SAVES" ;;
	diag) phase diag; st_diagnose "$HTTPD" "$HTTPD_LOG" diag ;; # the recorder of stalls, on demand
	*) xt_fail "phase $p" "unknown phase (cycles flap soak save)" ;;
	esac
done
phase ""
xt_info "httpd console, last lines:"
tail -n 8 "$HTTPD_LOG" | tr -d '\r' | sed 's/^/xen-test: info httpd console: /'
xt_destroy "$HTTPD"
[ -n "$ST_ECHO" ] && xt_destroy "$ST_ECHO"
xt_finish
