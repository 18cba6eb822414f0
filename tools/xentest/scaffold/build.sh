#!/usr/bin/env bash
# Host side of the scaffold suite (make xen-test): a module of one's own, made, built and
# configured as the README's "Your own unikernel" says, in a folder outside this repository.
# tamaxen new makes it (requiring this checkout through a replace, as a tamaxen built from a
# checkout does), tamaxen build builds its main.go, and tamaxen xl writes its config with a
# fixed address on dom0's bridge. A second program in the module imports nothing of tamaxen:
# tamaxen build supplies its board. OUT receives scaffold.elf, scaffold.cfg, plain.elf and
# plain.cfg for test.sh, which boots them in dom0.
#
# Usage: tools/xentest/scaffold/build.sh OUT
# Environment: GO (the go command, default go), TAMAGO (the TamaGo compiler, as for tamaxen).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 OUT" >&2; exit 2; }
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$repo" && "${GO:-go}" build -o "$tmp/tamaxen" ./cmd/tamaxen)
tamaxen=$tmp/tamaxen
"$tamaxen" new -replace "$repo" "$tmp/scaffold"
cd "$tmp/scaffold"
mkdir plain
cat >plain/main.go <<'GO'
// Command plain prints a line and exits: it imports no board, so tamaxen build supplies one.
package main

import "fmt"

func main() {
	fmt.Println("plain: hello from a program that imports no board")
}
GO
"$tamaxen" build
"$tamaxen" build -o plain.elf ./plain
"$tamaxen" xl -extra 'ip=10.0.0.20/24 gw=10.0.0.1 ip6=fd00::20/64' scaffold.elf
"$tamaxen" xl -memory 32 plain.elf
rm -rf "${out:?}"/*
cp scaffold.elf scaffold.cfg plain.elf plain.cfg "$out/"
