// C values that have no Go constant yet, checked against the headers so the numbers here can be
// trusted. TO WIRE ONE: move its line to the package's table in others_test.go and replace the
// number with the Go constant; nothing else changes. Names follow the installed headers (Xen
// 4.17: NETTXF_*, not the XEN_NETTXF_* of newer trees).

package abi
