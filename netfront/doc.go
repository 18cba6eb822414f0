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
// backend only ever sees driver-owned pages and never the caller's memory. A connection's page
// pool owns them all, rings included, hands them to the datapath as buffers known by id, and
// gives them back when the connection ends. Frames are copied into TX pages and out of RX
// pages; a frame larger than a page spans several slots when the backend does scatter-gather.
//
// The backend is untrusted: each response is copied out of the ring once and then checked (id in
// range and in flight, offset and size within the page, extra types, a producer that does not
// run past its consumer). On RX the checks and the gathering of multi-slot frames are a state
// machine over the copied responses, the assembler, which knows no ring: the RX loop consumes,
// copies, feeds it and delivers what it completes. A violation marks the device broken: it is
// counted, every call returns ErrBroken from then on, and nothing panics.
//
// Lifecycle: a connection is starting (negotiating, granting, publishing), then running, and
// ends closed (the closing handshake), dropped (made in the domain before a suspension: nothing
// said to anyone) or abandoned (an attempt given up, what it published taken back); one table
// lists the transitions. A supervisor goroutine follows the backend's state and the domain's
// resumes: when the backend closes (xl network-detach, a driver domain restart) it ends the
// connection, every page's access ended, and Send returns ErrDisconnected; when the vif is back
// it negotiates and connects anew, reporting both events through Config.Link. Close joins
// every goroutine.
//
// Files: device.go (Device, Send, Resume, Close), supervise.go (the supervisor), conn.go and
// xenbus.go (connecting, negotiating, publishing), lifecycle.go (a connection's states and how
// it ends), queue.go and pool.go (queues, pages and grants), tx.go and rx.go (the rings),
// assemble.go (the RX assembler), storm.go (pacing a backend that notifies for nothing),
// stats.go (counters).
//
// Portable: it reaches Xen only through package xen's seam, so the same code runs on the
// TamaGo board and in host tests against a simulated Xen.
package netfront
