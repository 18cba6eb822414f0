// Package netback is a model of Linux's xen-netback (drivers/net/xen-netback: xenbus.c,
// netback.c, rx.c) running in the simulated dom0 of package sim, for testing netfront and the
// wire format (io/netif.h, package netif) on the host.
//
// It follows Linux where a frontend can tell the difference: which requests it accepts, which
// it answers with NETIF_RSP_ERROR (the packet is dropped, the ring goes on), and which it treats
// as fatal (xenvif_fatal_tx_err: the vif stops processing and is reported broken). Each such
// rule names the Linux function it follows.
//
// Backend (New) is the whole vif: the xenbus side of xenbus.c (features, InitWait, connect on
// the frontend's Connected, disconnect on Closing, Closed then InitWait again for a
// reconnection), one or more queues with shared or split event channels, TX processing on
// events (netback.c) and RX placement by grant copy (rx.c). Frames leave through the Deliver
// function (Config.Deliver, SetDeliver) and enter with Backend.Inject; Link joins two vifs.
// SetFault and Disconnect make it misbehave for hostile-backend tests. Vif (NewTx) is the TX
// engine of one queue, usable on its own. The datapath does not allocate.
package netback
