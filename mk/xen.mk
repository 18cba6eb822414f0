# xen.mk — make targets for the QEMU/Xen test image (tools/xenimage); included by the Makefile.
#
# Also usable alone from the top of the repository: make -f mk/xen.mk xen-selftest
#
#   xen-image        build the image, or reuse the cached one (tools/xenimage/build.sh)
#   xen-run-payload  boot the image with XEN_RUN_DIR as /payload and report its verdict
#   xen-selftest     boot a Linux PVH domU on xenbr0 inside the image: proves the image works
#
# Other makefiles reuse the runner with $(call xen_run,PAYLOAD_DIR[,EXTRA_RUN_FLAGS]).

XEN_TOOLS_DIR := tools/xenimage
XEN_BUILD_SH := $(XEN_TOOLS_DIR)/build.sh
XEN_RUN_SH := $(XEN_TOOLS_DIR)/run.sh
# Seconds before run.sh kills QEMU and reports a timeout.
XEN_RUN_TIMEOUT ?= 600
# Extra run.sh flags, e.g. --linux-domu, --verbose, --show '^\(d[0-9]+\)'.
XEN_RUN_FLAGS ?=
# Payload folder (holding test.sh) for xen-run-payload.
XEN_RUN_DIR ?=

# $(call xen_run,PAYLOAD_DIR[,EXTRA_RUN_FLAGS]) is the command that runs one payload.
xen_run = $(XEN_RUN_SH) --timeout $(XEN_RUN_TIMEOUT) $(XEN_RUN_FLAGS) $(2) $(1)

.PHONY: xen-image xen-run-payload xen-selftest

xen-image:
	$(XEN_BUILD_SH)

xen-run-payload:
	@test -n "$(XEN_RUN_DIR)" || { echo "set XEN_RUN_DIR to a folder holding test.sh"; exit 2; }
	$(call xen_run,$(XEN_RUN_DIR))

xen-selftest:
	$(call xen_run,$(XEN_TOOLS_DIR)/selftest,--linux-domu --log build/xen-selftest.log)
