#!/usr/bin/env bash
# bench.sh — host side of `make xen-bench`: boot the image with the benchmark payload, then
# write the results table.
#
# Usage: tools/xenbench/bench.sh PAYLOAD_DIR RESULTS_MD [run.sh options...]
# Runs tools/xenimage/run.sh --linux-domu on PAYLOAD_DIR (laid out by mk/xen.mk), keeps its
# output in build/xen-bench.out and the serial log in build/xen-bench.log, renders the table
# with report.sh into build/xen-bench.md and prints it; copies it to RESULTS_MD only when
# every measurement worked (run.sh exited 0).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
payload=${1:?usage: bench.sh PAYLOAD_DIR RESULTS_MD [run.sh options...]}
results=${2:?usage: bench.sh PAYLOAD_DIR RESULTS_MD [run.sh options...]}
shift 2

mkdir -p "$repo/build"
rc=0
# Other work on the host slows TCG down: the load around the run goes into the report.
load0=$(cut -d' ' -f1 /proc/loadavg)
# The tree the images are built from (make built them just before): the report names it.
tree=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	tree="$tree, dirty (uncommitted changes in the working tree)"
fi
t0=$SECONDS
"$repo/tools/xenimage/run.sh" --linux-domu --log "$repo/build/xen-bench.log" "$@" "$payload" |
	tee "$repo/build/xen-bench.out" || rc=$?
{
	echo "xen-test: info bench host seconds $((SECONDS - t0))"
	echo "xen-test: info bench host load $load0 $(cut -d' ' -f1 /proc/loadavg)"
	echo "xen-test: info bench host tree $tree"
} >>"$repo/build/xen-bench.out"
"$here/report.sh" "$repo/build/xen-bench.out" >"$repo/build/xen-bench.md"
echo
sed -n '/^| |/,/^$/p' "$repo/build/xen-bench.md"
if [ "$rc" -eq 0 ]; then
	mkdir -p "$(dirname "$results")"
	cp "$repo/build/xen-bench.md" "$results"
	echo "xen-bench: wrote $results"
else
	echo "xen-bench: some measurements failed; $results left alone, the partial table is in build/xen-bench.md"
fi
exit "$rc"
