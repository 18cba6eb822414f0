// Package abi holds the ABI conformance test of tamaxen: it compiles a small C program against
// Xen's public headers (xen/include/public, as installed by Debian's libxen-dev under
// /usr/include/xen), runs it, and compares every sizeof, offsetof and constant it prints with the
// Go constants of the subsystem packages. The test skips when no C compiler or no headers are
// installed. The package has no code; see the _test.go files, and add a line to a table there
// for each new wire constant.
package abi
