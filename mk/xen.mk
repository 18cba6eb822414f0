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
#   xen-bench        the unikernel against a Linux PVH domU in one boot (tools/xenbench);
#                    writes bench/results.md (needs the top Makefile, like xen-run)
#   xen-stress       detach/attach cycles, link flaps, a soak and xl save against examples/httpd
#                    and examples/echo (tools/xenstress; XEN_STRESS_SOAK, XEN_STRESS_CYCLES)
#   xen-stress-quick the same with CI's profile: 10 cycles, one flap, a 2-minute soak, one save
#
# Other makefiles reuse the runner with $(call xen_run,PAYLOAD_DIR[,EXTRA_RUN_FLAGS]).

# The Xen release every target boots: 4.17 (Debian 12, Linux 6.1 dom0) or 4.20 (Debian 13,
# Linux 6.12 dom0), e.g. `make xen-test XEN=4.20`. Each has its own cached image; run.sh and
# build.sh read the choice from XEN_VERSION.
XEN ?= 4.17
export XEN_VERSION := $(XEN)

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

.PHONY: xen-image xen-run-payload xen-selftest xen-run xen-run-check xen-bench

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

# xen-bench: the unikernel and a Linux PVH domU of the image's own kernel, one at a time in
# one boot of the image (tools/xenbench): xl create to first ping and first HTTP answer at
# 10 ms resolution, bulk TCP both ways over 1 and 4 streams with the same Go code on both
# guests (tools/xenbench/bulk: bulkguest on the unikernel, the static bulk tool in the Linux
# initramfs), examples/httpd's HTTP download and upload, the smallest memory that serves,
# image sizes, and the counters behind the rates. Prints the table; writes
# $(XEN_BENCH_RESULTS) when every measurement worked. XEN_BENCH_MEMS= (empty) skips the
# memory sweep while iterating. About 8 minutes under TCG on a quiet 2-core host (longer under load).
XEN_BENCH_PAYLOAD = build/bench-payload
XEN_BENCH_RESULTS ?= bench/results.md
XEN_BENCH_TIMEOUT ?= 2400
XEN_BENCH_BYTES ?= 67108864
XEN_BENCH_RUNS ?= 5
XEN_BENCH_HTTP_RUNS ?= 3
XEN_BENCH_STREAMS ?= 1 4
XEN_BENCH_MEMS ?= 16 20 24 32 48 64 96 128

# The bulk tool (dom0's client and prober, the Linux domU's server) and the unikernel's server.
$(BUILD)/bulk: FORCE
	@mkdir -p $(BUILD)
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -o $@ ./tools/xenbench/cmd/bulk
$(BUILD)/bulkguest.elf: FORCE
	@mkdir -p $(BUILD)
	$(TAMAGO_ENV) $(TAMAGO) vet -tags $(TAMAGO_TAGS) ./tools/xenbench/bulkguest
	$(TAMAXEN) build -o $@ ./tools/xenbench/bulkguest

xen-bench: check-tamago build/httpd.elf $(BUILD)/bulkguest.elf build/xenpeer $(BUILD)/bulk
	@rm -rf $(XEN_BENCH_PAYLOAD) && mkdir -p $(XEN_BENCH_PAYLOAD)/bin
	@cp tools/xenbench/test.sh tools/xenbench/linux-init examples/httpd/httpd.cfg \
	  tools/xenbench/bulkguest/bulkguest.cfg build/httpd.elf build/bulkguest.elf $(XEN_BENCH_PAYLOAD)/
	@cp build/xenpeer build/bulk $(XEN_BENCH_PAYLOAD)/bin/
	@printf 'BENCH_BYTES=%s\nBENCH_RUNS=%s\nBENCH_HTTP_RUNS=%s\nBENCH_STREAMS="%s"\nBENCH_MEMS="%s"\n' \
	  '$(XEN_BENCH_BYTES)' '$(XEN_BENCH_RUNS)' '$(XEN_BENCH_HTTP_RUNS)' '$(XEN_BENCH_STREAMS)' \
	  '$(XEN_BENCH_MEMS)' >$(XEN_BENCH_PAYLOAD)/bench.env
	tools/xenbench/bench.sh $(XEN_BENCH_PAYLOAD) $(XEN_BENCH_RESULTS) \
	  --timeout $(XEN_BENCH_TIMEOUT) $(XEN_RUN_FLAGS)

# xen-stress: reliability on real Xen (tools/xenstress, docs/reliability.md), in one boot:
# $(XEN_STRESS_CYCLES) xl network-detach/attach cycles of examples/httpd each followed by
# traffic, with grants, goroutines and heap compared after the first and the last; the vif
# set down and up under a download; $(XEN_STRESS_SOAK) s of TCP and UDP both ways with
# examples/httpd and examples/echo; $(XEN_STRESS_SAVES) xl save/restore cycles with a download
# across each. About 12 minutes plus the soak under TCG. XEN_STRESS_PHASES picks phases
# (cycles flap soak save).
XEN_STRESS_PAYLOAD = build/xen-stress
XEN_STRESS_CYCLES ?= 100
XEN_STRESS_SOAK ?= 600
XEN_STRESS_SAVES ?= 2
XEN_STRESS_PHASES ?= cycles flap soak save
XEN_STRESS_TIMEOUT ?= $(shell echo $$(($(XEN_STRESS_SOAK) + 12 * $(XEN_STRESS_CYCLES) + 300 * $(XEN_STRESS_SAVES) + 600)))

.PHONY: xen-stress
build/xensoak: FORCE
	@mkdir -p build
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -o $@ ./tools/xenstress/cmd/xensoak

xen-stress: check-tamago build/httpd.elf build/echo.elf build/xenpeer build/xensoak
	@rm -rf $(XEN_STRESS_PAYLOAD) && mkdir -p $(XEN_STRESS_PAYLOAD)/bin
	@cp tools/xenstress/*.sh examples/httpd/httpd.cfg examples/echo/echo.cfg \
	  build/httpd.elf build/echo.elf $(XEN_STRESS_PAYLOAD)/
	@cp build/xenpeer build/xensoak $(XEN_STRESS_PAYLOAD)/bin/
	@printf 'XEN_STRESS_CYCLES=%s\nXEN_STRESS_SOAK=%s\nXEN_STRESS_SAVES=%s\nXEN_STRESS_PHASES="%s"\n' \
	  '$(XEN_STRESS_CYCLES)' '$(XEN_STRESS_SOAK)' '$(XEN_STRESS_SAVES)' '$(XEN_STRESS_PHASES)' >$(XEN_STRESS_PAYLOAD)/stress.env
	$(XEN_RUN_SH) --timeout $(XEN_STRESS_TIMEOUT) $(XEN_RUN_FLAGS) \
	  --log build/xen-stress-$(XEN).log $(XEN_STRESS_PAYLOAD)

# xen-stress-quick: every phase, kept short enough for CI (about 10 minutes under TCG).
.PHONY: xen-stress-quick
xen-stress-quick:
	$(MAKE) xen-stress XEN_STRESS_CYCLES=10 XEN_STRESS_SOAK=120 XEN_STRESS_SAVES=1 \
	  XEN_STRESS_PHASES="cycles flap soak save"
