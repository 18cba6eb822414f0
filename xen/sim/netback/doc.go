// Package netback is a model of Linux's xen-netback (drivers/net/xen-netback: xenbus.c,
// netback.c, rx.c) running in the simulated dom0 of package sim, for testing netfront and the
// wire format (io/netif.h, package netif) on the host.
//
// It follows Linux where a frontend can tell the difference: which requests it accepts, which
// it answers with NETIF_RSP_ERROR (the packet is dropped, the ring goes on), and which it treats
// as fatal (xenvif_fatal_tx_err: the vif stops processing and is reported broken). Each such
// rule names the Linux function it follows.
//
// Frames cross into and out of the vif through an Attachment: TX frames are handed to its
// Deliver function; RX frames are injected with Vif.Inject.
//
// Only a single queue is modelled: multi-queue-max-queues may be advertised, but a frontend
// asking for more than one queue is refused as Linux refuses one asking for more than the max.
package netback
