//go:build tamago && amd64

package main

// The Xen PVH board: boot, console, clock, events, XenStore and grant table.
import _ "github.com/tamaxen/tamaxen/board/xenpvh"
