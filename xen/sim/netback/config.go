// What the backend advertises and how it is attached.

package netback

import (
	"context"
	"strconv"

	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// Features are the keys netback_probe writes in the backend directory. A false flag is not
// written at all (feature-rx-flip is always written as 0, as Linux does).
type Features struct {
	RxCopy             bool // feature-rx-copy
	SG                 bool // feature-sg
	GSOTCPv4           bool // feature-gso-tcpv4
	GSOTCPv6           bool // feature-gso-tcpv6
	IPv6CsumOffload    bool // feature-ipv6-csum-offload
	MulticastControl   bool // feature-multicast-control and feature-dynamic-multicast-control
	SplitEventChannels bool // feature-split-event-channels
}

// AllFeatures is what Linux netback advertises (feature-ctrl-ring aside, not modelled).
func AllFeatures() Features {
	return Features{RxCopy: true, SG: true, GSOTCPv4: true, GSOTCPv6: true, IPv6CsumOffload: true,
		MulticastControl: true, SplitEventChannels: true}
}

// Config configures a Backend. Start from DefaultConfig.
type Config struct {
	Features Features
	// MaxQueues is written as multi-queue-max-queues (xenvif_max_queues); 0 means 1. A
	// frontend asking for more is refused as Linux refuses it.
	MaxQueues int
	// RxQueueLen bounds the frames waiting per queue for the frontend's RX buffers (the
	// model of the rx_queue_max limit); 0 means 64. Injected frames beyond it are dropped.
	RxQueueLen int
	// Deliver receives every frame the guest sends (TX), from the queue's TX goroutine. Its
	// Data is valid only during the call. Nil drops them. See also SetDeliver and Link.
	Deliver func(Frame)
}

// DefaultConfig advertises everything Linux does, with 4 queues.
func DefaultConfig() Config { return Config{Features: AllFeatures(), MaxQueues: 4} }

// writeFeatures is netback_probe's transaction: the feature keys, then multi-queue-max-queues
// (which Linux writes outside it; the frontend cannot tell).
func (b *Backend) writeFeatures(ctx context.Context) error {
	f := b.cfg.Features
	return b.xs.Update(ctx, func(tx *xenstore.Tx) error {
		keys := []struct {
			key string
			val string
			on  bool
		}{
			{"feature-sg", "1", f.SG},
			{"feature-gso-tcpv4", "1", f.GSOTCPv4},
			{"feature-gso-tcpv6", "1", f.GSOTCPv6},
			{"feature-ipv6-csum-offload", "1", f.IPv6CsumOffload},
			{"feature-rx-copy", "1", f.RxCopy},
			{"feature-rx-flip", "0", true},
			{"feature-multicast-control", "1", f.MulticastControl},
			{"feature-dynamic-multicast-control", "1", f.MulticastControl},
			{"feature-split-event-channels", "1", f.SplitEventChannels},
			{"multi-queue-max-queues", strconv.Itoa(b.maxQueues()), true},
		}
		for _, k := range keys {
			if !k.on {
				continue
			}
			if err := tx.Write(ctx, b.dir+"/"+k.key, []byte(k.val)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *Backend) maxQueues() int { return max(b.cfg.MaxQueues, 1) }
