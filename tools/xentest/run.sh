#!/usr/bin/env bash
# Top of a real-Xen payload: runs each suite's test.sh from its own folder, then the summary.
# The Makefile lays the payload out as <suite>/{test.sh,*.cfg,*.elf} plus bin/ for dom0 tools.
. /usr/lib/xentest/lib.sh
cd /payload
export PATH="/payload/bin:$PATH"
for suite in */; do
	suite=${suite%/}
	[ -f "$suite/test.sh" ] || continue
	xt_info "suite $suite"
	(cd "$suite" && bash ./test.sh) || xt_fail "suite $suite" "test.sh exited with status $?"
done
xt_finish
