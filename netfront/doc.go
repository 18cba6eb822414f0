// Package netfront is the Xen paravirtual network frontend: the Go counterpart of Linux's
// drivers/net/xen-netfront.c, for guests that drive their own vif.
//
// It finds device/vif/<id> in XenStore, negotiates with the backend (Linux netback in a driver
// domain) what both support — rx-copy (required), scatter-gather, TSO for TCP over IPv4 and
// IPv6, checksum offload, multiple queues and split event channels — publishes its ring
// references and event channels in one transaction, and moves frames through the TX and RX
// rings of io/netif.h (package netif) with no allocation per frame.
//
// Buffers: every ring slot has a page of its own from the platform's Memory, zeroed and granted
// to the backend once when the device connects (read-only for TX, writable for RX), so the
// backend only ever sees driver-owned pages and never the caller's memory. Frames are copied
// into TX pages and out of RX pages; a frame larger than a page spans several slots when the
// backend does scatter-gather.
//
// The backend is untrusted: each response is copied out of the ring once and then checked (id in
// range and in flight, offset and size within the page, extra types, a producer that does not
// run past its consumer). A violation marks the device broken: it is counted, every call returns
// ErrBroken from then on, and nothing panics.
//
// Lifecycle: a supervisor goroutine follows the backend's state. When the backend closes
// (xl network-detach, a driver domain restart) the device closes its side, ends access to
// every page and returns ErrDisconnected from Send; when the vif is back it negotiates and
// connects anew, reporting both events through Config.Link. Close joins every goroutine.
//
// Portable: it reaches Xen only through package xen's seam, so the same code runs on the
// TamaGo board and in host tests against a simulated Xen.
package netfront
