// Package xenpvh is a TamaGo board for Xen PVH guests (x86-64).
//
// Imported for its side effects, like TamaGo's own boards:
//
//	import _ "github.com/tamaxen/tamaxen/board/xenpvh"
//
// and built with
//
//	GOOS=tamago GOOSPKG=github.com/usbarmory/tamago GOARCH=amd64 \
//	  tamago-go build -tags linkcpuinit,linkramstart \
//	  -ldflags "-T 0x101000 -R 0x1000"
//
// it boots from Xen's PVH entry point (hvm/start_info.h), builds its own page tables (2 MiB
// pages, which Xen's HAP offers everywhere), sizes RAM from the start info memory map, finds Xen
// and installs the hypercall page, keeps time with Xen's paravirtual clock, writes the console to
// I/O port 0xe9 until the PV console ring is up, delivers event channel upcalls as a LAPIC vector
// to a goroutine, blocks the vCPU when idle, and ends the domain through SCHEDOP_shutdown.
//
// What needs no CPU (parsing the start info and the command line, the memory layout, the order
// of the suspend sequence) is in xen/pvh, tested on the host; this package binds it to the CPU
// and the runtime in *_tamago_amd64 files.
package xenpvh
