// Configuration, the platform the driver runs on, and per-frame metadata.

package netfront

import (
	"errors"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/xenbus"
)

// MinTxBuffers is the fewest TX pages a queue gets, whatever Config.TxBuffers says: the pages
// of the largest frame netif allows (XEN_NETIF_MAX_TX_SIZE, a 64 KiB TSO frame), one per slot.
// With fewer, every such frame would fail with ErrTooBig for good while the stack, which only
// knows the negotiated GSO size, kept producing them.
const MinTxBuffers = (netif.XEN_NETIF_MAX_TX_SIZE + xen.PageSize - 1) / xen.PageSize

// minRxBuffers keeps enough buffers posted for the largest frame a backend may send
// (XEN_NETIF_NR_SLOTS_MIN slots) plus one extra-info slot, as Linux's NET_RX_SLOTS_MIN does.
const minRxBuffers = 19

// Errors returned by a Device.
var (
	ErrBroken   = xen.ErrBroken
	ErrClosed   = xen.ErrClosed
	ErrNoRxCopy = errors.New("netfront: backend lacks feature-rx-copy")
	ErrTooBig   = errors.New("netfront: frame too large for the negotiated features")
	ErrTooSmall = errors.New("netfront: frame shorter than an Ethernet header")
)

// Platform is what the driver needs from the guest: its XenStore connection, grant table,
// event channel dispatcher and shared pages. It is xenbus.Platform, which the simulated machine
// fills too without importing the driver; the name here keeps Open's signature self-evident.
type Platform = xenbus.Platform

// channel is what a queue needs of an event channel (an *evtchn.Channel on Xen).
type channel interface {
	xen.EventChannel
	Close() error
}

// Config chooses what the driver asks for. The zero value asks for everything with one queue.
type Config struct {
	// ID is the vif's id under device/vif/; "" means the first one found.
	ID string
	// Queues is the number of queues to use when the backend offers several (0 means 1).
	Queues int
	// TxBuffers is the number of TX pages per queue (0 means 64); at least MinTxBuffers, so
	// that a frame of any size the backend accepts fits, and at most the ring size.
	TxBuffers int
	// RxBuffers is the number of RX pages posted per queue (0 means 128); between
	// minRxBuffers and the ring size. Each buffer is a page of the platform's Memory.
	RxBuffers int
	// NoSG, NoGSO and NoCsumOffload turn features off even when the backend offers them.
	// NoCsumOffload writes feature-no-csum-offload, so the backend sends complete checksums.
	NoSG, NoGSO, NoCsumOffload bool
	// NoSplitEventChannels uses one event channel per queue even if the backend offers two.
	NoSplitEventChannels bool
	// Link, if set, is called from the device's supervisor when the backend goes away (false)
	// and when the device has connected again (true): time for a gratuitous ARP.
	Link func(up bool)
	// Logf, if set, receives the reasons of failed reconnection attempts.
	Logf func(format string, args ...any)
	// Receive is called for every frame received, from the queue's RX goroutine and without
	// any driver lock held. frame is valid only during the call.
	Receive func(frame []byte, m RxMeta)
}

// Features is what was negotiated with the backend.
type Features struct {
	RxCopy, SG, GSOTCPv4, GSOTCPv6, CsumOffload, IPv6CsumOffload, SplitEventChannels, RxNotify bool
	Queues                                                                                     int
}

// GSO types, as in io/netif.h.
const (
	GSONone  = 0
	GSOTCPv4 = 1
	GSOTCPv6 = 2
)

// TxMeta describes a frame handed to Send.
type TxMeta struct {
	// CsumBlank: the L4 checksum is partial and the backend (or whoever receives the frame)
	// must complete it (NETTXF_csum_blank; needs checksum offload).
	CsumBlank bool
	// DataValidated: the checksum is known good (NETTXF_data_validated).
	DataValidated bool
	// GSOType and GSOSize ask the backend to segment a large TCP frame into GSOSize payloads.
	GSOType uint8
	GSOSize uint16
}

// RxMeta describes a received frame.
type RxMeta struct {
	Queue         int
	CsumBlank     bool // NETRXF_csum_blank: checksum partial, complete it before use
	DataValidated bool // NETRXF_data_validated
	GSOType       uint8
	GSOSize       uint16
}
