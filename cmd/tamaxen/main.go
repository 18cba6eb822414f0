// Command tamaxen makes, builds and runs Go unikernels for Xen PVH guests (TamaGo, the netfront
// driver and gVisor's network stack of github.com/tamaxen/tamaxen):
//
//	tamaxen new DIR [-module PATH]         a module of your own: main.go, the board, an xl config
//	tamaxen run [PACKAGE] [-- flags]       the program hosted, over the simulated Xen
//	tamaxen build [-o FILE] [PACKAGE]      a Xen PVH image, with the TamaGo compiler
//	tamaxen xl [flags] FILE.elf            its xl config
//	tamaxen xen-run [PACKAGE]              the program on real Xen inside QEMU
//	tamaxen doctor                         what the commands need, and how to get it
//
// Install it with go install github.com/tamaxen/tamaxen/cmd/tamaxen@latest, or from a checkout
// with go install ./cmd/tamaxen. Every command has -h. A tamaxen installed at a version makes
// modules that require that version; one built from a checkout makes modules that use the
// checkout through a replace directive (tamaxen new -h).
package main

import (
	"context"
	"os"

	"github.com/tamaxen/tamaxen/cmd/tamaxen/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), cli.OSEnv(), os.Args[1:]))
}
