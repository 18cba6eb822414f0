# tamaxen: host tests, TamaGo builds of the examples, and the real-Xen suite in QEMU.

GO ?= go
# The TamaGo compiler: $(TAMAGO), else a tamago-go command on PATH.
TAMAGO ?= $(shell command -v tamago-go 2>/dev/null)
TAMAGO_ENV = GOOS=tamago GOOSPKG=github.com/usbarmory/tamago GOARCH=amd64
TAMAGO_TAGS = linkcpuinit,linkramstart
# The tamaxen command (cmd/tamaxen): the examples build and run as a user's own module does.
TAMAXEN = TAMAGO=$(TAMAGO) $(GO) run ./cmd/tamaxen

BUILD = build
EXAMPLES = hello xencheck netcheck httpd echo
EXAMPLE_ELFS = $(EXAMPLES:%=$(BUILD)/%.elf)

.PHONY: test vet run run-check examples check-tamago xen-test clean bench fuzz

test: vet
	$(GO) test -race -count=1 ./...
	@# Every frame size from 14 to 65535 bytes through netfront and the simulated netback: too
	@# slow under the race detector, which runs a strided sweep above.
	$(GO) test -count=1 -run 'TestSimRoundTripEverySize' ./netfront

# run: examples/httpd hosted: the real netfront driver and gVisor over the simulated Xen, as a
# Linux process, reachable at http://127.0.0.1:8080/ (Ctrl-C stops). RUN_ARGS adds flags:
# -pcap FILE, -cmdline 'ip=10.0.0.2/24', -queues 2, -tap DEV (root), -forward HOST:PORT-:PORT.
RUN_ARGS ?=
run:
	$(TAMAXEN) run ./examples/httpd -- $(RUN_ARGS)

# run-check: what make run promises, checked from outside: within 10 s of starting, / answers
# and /metrics shows netfront counters that moved.
run-check:
	tools/runcheck.sh

# bench: the datapath's speed on this host, as a table: the driver alone (netfront against a
# backend that answers its rings without touching the data, against the copy limit of the same
# bytes), netfront TX and RX through the simulated netback (64 B, 1500 B, 64 KiB TSO; 1 and 2 queues), a ping-pong round trip, memmove
# for scale, and TCP through gVisor both ways with and without offloads. The raw `go test`
# output stays in build/bench.txt for benchstat; BENCHTIME and BENCHCOUNT tune the runs.
BENCHTIME ?= 0.5s
BENCHCOUNT ?= 3
bench:
	@mkdir -p $(BUILD)
	$(GO) test -run '^$$' -bench '^Benchmark(DriverTX|DriverRX|SimTX|SimRX|SimPingPong|Memmove)$$' -benchmem \
	  -benchtime=$(BENCHTIME) -count=$(BENCHCOUNT) ./netfront > $(BUILD)/bench.txt || \
	  { cat $(BUILD)/bench.txt; exit 1; }
	$(GO) test -run '^$$' -bench '^BenchmarkTCP$$' -benchmem \
	  -benchtime=$(BENCHTIME) -count=$(BENCHCOUNT) ./netstack >> $(BUILD)/bench.txt || \
	  { cat $(BUILD)/bench.txt; exit 1; }
	@$(GO) run ./tools/benchtable < $(BUILD)/bench.txt

# fuzz: every fuzz target in the tree (each `func Fuzz...` of a _test.go file), one after
# another for FUZZTIME each with one worker, then a line per target: result, executions, time.
# FUZZ_TARGETS narrows it (./netfront:FuzzHostileBackend ...). Logs stay in build/fuzz/; a
# failing input is saved under the package's testdata/fuzz/<target>/ and its log printed.
# Go 1.26's coordinator can fail a target with a bare "context deadline exceeded" when a
# duration -fuzztime ends (golang/go#75804, fixed in Go 1.27); with no failing input written,
# that is counted as a pass. A count (FUZZTIME=10000000x) has no deadline at all.
FUZZTIME ?= 30s
# Minimizing each new input may take a minute by default: a short run would spend it there.
FUZZMINTIME ?= 5s
FUZZ_TARGETS ?= $(shell grep -r --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' . 2>/dev/null | \
	grep -v '^./build/' | sed -E 's|^(.*)/[^/]*:func (Fuzz.*)$$|\1:\2|' | sort)
fuzz:
	@mkdir -p $(BUILD)/fuzz; rm -f $(BUILD)/fuzz/summary; rc=0; \
	for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; log=$(BUILD)/fuzz/$$name.log; \
	  echo "fuzz: $$pkg $$name for $(FUZZTIME)"; \
	  if $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME) -parallel 1 $$pkg > $$log 2>&1; \
	  then res=ok; \
	  elif grep -q '^    context deadline exceeded$$' $$log && ! grep -q 'Failing input written' $$log; \
	  then res=ok; echo "  (go#75804: the coordinator reported its own -fuzztime deadline; no failing input)"; \
	  else res=FAIL; rc=1; tail -n 30 $$log; fi; \
	  last=$$(grep '^fuzz: elapsed' $$log | tail -n 1); \
	  execs=$$(echo "$$last" | sed -nE 's/^fuzz: elapsed: ([0-9hms.]+), execs: ([0-9]+) .*/\2 \1/p'); \
	  echo "$$res $$pkg $$name $${execs:-0 -}" >> $(BUILD)/fuzz/summary; \
	done; \
	echo; printf '%-6s %-24s %-22s %14s %10s\n' result package target execs elapsed; \
	while read -r res pkg name n took; do \
	  printf '%-6s %-24s %-22s %14s %10s\n' $$res $$pkg $$name $$n $$took; done < $(BUILD)/fuzz/summary; \
	exit $$rc

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

check-tamago:
	@if [ -z "$(TAMAGO)" ]; then \
	  echo "The TamaGo compiler is needed: build branch tamago1.26.0 of"; \
	  echo "github.com/usbarmory/tamago-go (cd src && ./make.bash) and put a 'tamago-go'"; \
	  echo "command on PATH that runs its bin/go, or set TAMAGO=/path/to/bin/go."; \
	  exit 1; fi

examples: check-tamago $(EXAMPLE_ELFS)

# Always rebuilt: go's own cache makes this cheap, and make cannot see Go dependencies.
FORCE:
$(BUILD)/%.elf: FORCE
	@mkdir -p $(BUILD)
	$(TAMAGO_ENV) $(TAMAGO) vet -tags $(TAMAGO_TAGS) ./board/... ./hypercall/... ./examples/$*
	$(TAMAXEN) build -o $@ ./examples/$*

-include mk/xen.mk

clean:
	rm -rf $(BUILD)

# --- real Xen (QEMU/TCG): see tools/xenimage ----------------------------------------------------
XEN_RUN = tools/xenimage/run.sh
XEN_TIMEOUT ?= 1500
# One suite per example, tools/xentest/<example>, by default every example that is built;
# hostile (tools/xentest/hostile), malformed and abusive traffic at echo and httpd; and scaffold
# (tools/xentest/scaffold), a module of tamaxen new built by tamaxen build outside the repository.
XEN_SUITES ?= $(filter $(EXAMPLES),hello xencheck netcheck httpd echo) hostile scaffold
XEN_PAYLOAD = $(BUILD)/payload
# The examples a suite boots: the one of its name, unless XEN_SUITE_EXAMPLES_<suite> lists others.
XEN_SUITE_EXAMPLES_hostile = echo httpd
XEN_SUITE_EXAMPLES = $(or $(XEN_SUITE_EXAMPLES_$(1)),$(1))
# The files of a suite besides its test.sh: its examples' ELFs and xl configs, unless
# XEN_SUITE_FILES_<suite> names others (made by a prerequisite of xen-test).
XEN_SUITE_FILES_scaffold = $(BUILD)/scaffold/*
XEN_SUITE_FILES = $(or $(XEN_SUITE_FILES_$(1)),$(foreach e,$(call XEN_SUITE_EXAMPLES,$(1)),examples/$(e)/*.cfg $(BUILD)/$(e).elf))
# dom0-side tools of the suites, built with the stock toolchain.
XEN_TOOLS = xenpeer xenhostile

.PHONY: xen-test

$(XEN_TOOLS:%=$(BUILD)/%): FORCE
	@mkdir -p $(BUILD)
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -o $@ ./tools/xentest/cmd/$(@F)

# xen-test boots the image once with a payload holding every suite (its test.sh, the ELFs and
# xl configs of its examples) and the tools in bin/, and prints one line per check plus
# "N passed, M failed".
xen-test: examples $(XEN_TOOLS:%=$(BUILD)/%)
	@rm -rf $(XEN_PAYLOAD) && mkdir -p $(XEN_PAYLOAD)/bin
	@cp tools/xentest/run.sh $(XEN_PAYLOAD)/test.sh
	@cp $(XEN_TOOLS:%=$(BUILD)/%) $(XEN_PAYLOAD)/bin/
	@$(foreach s,$(XEN_SUITES),mkdir -p $(XEN_PAYLOAD)/$(s) && \
	  cp tools/xentest/$(s)/test.sh $(call XEN_SUITE_FILES,$(s)) $(XEN_PAYLOAD)/$(s)/ && ) true
	$(XEN_RUN) --timeout $(XEN_TIMEOUT) --log $(BUILD)/xen-suites-$(XEN).log $(XEN_PAYLOAD)

# The scaffold suite's guests, made as a user makes theirs: tamaxen new in a folder outside the
# repository, tamaxen build, tamaxen xl (tools/xentest/scaffold/build.sh).
xen-test: $(if $(filter scaffold,$(XEN_SUITES)),$(BUILD)/scaffold)
$(BUILD)/scaffold: FORCE
	TAMAGO=$(TAMAGO) GO=$(GO) tools/xentest/scaffold/build.sh $@
