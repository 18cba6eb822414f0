# xen.mk — make targets for the QEMU/Xen test image (tools/xenimage); included by the Makefile.
#
# Also usable alone from the top of the repository: make -f mk/xen.mk xen-selftest
#
#   xen-image        build the image, or reuse the cached one (tools/xenimage/build.sh)
#   xen-run-payload  boot the image with XEN_RUN_DIR as /payload and report its verdict
#   xen-selftest     boot a Linux PVH domU on xenbr0 inside the image: proves the image works
#   xen-run          serve examples/httpd from the image at http://127.0.0.1:$(XEN_RUN_PORT)/
#                    until Ctrl-C (needs the top Makefile, which builds build/httpd.elf)
#   xen-run-check    start xen-run, fetch / from the host through the forwarded port, stop it
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

.PHONY: xen-image xen-run-payload xen-selftest xen-run xen-run-check

xen-image:
	$(XEN_BUILD_SH)

xen-run-payload:
	@test -n "$(XEN_RUN_DIR)" || { echo "set XEN_RUN_DIR to a folder holding test.sh"; exit 2; }
	$(call xen_run,$(XEN_RUN_DIR))

xen-selftest:
	$(call xen_run,$(XEN_TOOLS_DIR)/selftest,--linux-domu --log build/xen-selftest.log)

# xen-run: QEMU forwards host 127.0.0.1:$(XEN_RUN_PORT) to dom0's port 80, where socat relays
# it to the example's ip= (tools/xentest/xen-run/test.sh); no timeout, Ctrl-C stops it.
XEN_RUN_EXAMPLE ?= httpd
XEN_RUN_PORT ?= 8080
XEN_RUN_GUEST_PORT ?= 80
XEN_RUN_PAYLOAD = build/xen-run

xen-run: check-tamago build/$(XEN_RUN_EXAMPLE).elf
	@rm -rf $(XEN_RUN_PAYLOAD) && mkdir -p $(XEN_RUN_PAYLOAD)
	@cp tools/xentest/xen-run/test.sh examples/$(XEN_RUN_EXAMPLE)/*.cfg \
	  build/$(XEN_RUN_EXAMPLE).elf $(XEN_RUN_PAYLOAD)/
	@printf 'XEN_RUN_EXAMPLE=%s\nXEN_RUN_GUEST_PORT=%s\nXEN_RUN_URL=http://127.0.0.1:%s/\n' \
	  $(XEN_RUN_EXAMPLE) $(XEN_RUN_GUEST_PORT) $(XEN_RUN_PORT) >$(XEN_RUN_PAYLOAD)/xen-run.env
	$(XEN_RUN_SH) --timeout 0 --hostfwd tcp:127.0.0.1:$(XEN_RUN_PORT)-:80 $(XEN_RUN_FLAGS) \
	  --log build/xen-run.log $(XEN_RUN_PAYLOAD)

xen-run-check:
	XEN_RUN_PORT=$(XEN_RUN_PORT) tools/xentest/xen-run/check.sh
