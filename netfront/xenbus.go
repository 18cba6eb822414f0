// Negotiation with the backend through XenStore, key for key as Linux netfront writes them.

package netfront

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// readBool reads a backend feature flag: present and "1" means yes; absent means no.
func readBool(ctx context.Context, xs xenstore.Ops, path string) (bool, error) {
	v, err := xs.Read(ctx, path)
	if errors.Is(err, xen.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	n, err := strconv.ParseUint(string(v), 10, 32)
	if err != nil {
		return false, fmt.Errorf("netfront: %s = %q: not a number", path, v)
	}
	return n != 0, nil
}

// negotiate reads the backend's features and keeps those the configuration wants.
func negotiate(ctx context.Context, xs xenstore.Ops, backend string, cfg Config) (Features, error) {
	var f Features
	flag := func(key string) bool {
		if ctx.Err() != nil {
			return false
		}
		ok, err := readBool(ctx, xs, backend+"/"+key)
		return err == nil && ok
	}
	f.RxCopy = flag("feature-rx-copy")
	if !f.RxCopy {
		return f, ErrNoRxCopy
	}
	f.RxNotify = flag("feature-rx-notify")
	f.SG = !cfg.NoSG && flag("feature-sg")
	// GSO needs SG: a GSO frame is larger than a page.
	f.GSOTCPv4 = f.SG && !cfg.NoGSO && flag("feature-gso-tcpv4")
	f.GSOTCPv6 = f.SG && !cfg.NoGSO && flag("feature-gso-tcpv6")
	// Checksum offload over IPv4 is implied by the protocol (feature-no-csum-offload turns it
	// off); IPv6 needs its own flag.
	f.CsumOffload = !cfg.NoCsumOffload
	f.IPv6CsumOffload = f.CsumOffload && flag("feature-ipv6-csum-offload")
	f.SplitEventChannels = !cfg.NoSplitEventChannels && flag("feature-split-event-channels")
	f.Queues = 1
	if want := max(cfg.Queues, 1); want > 1 {
		v, err := xs.Read(ctx, backend+"/multi-queue-max-queues")
		if err == nil {
			n, perr := strconv.ParseUint(string(v), 10, 16)
			if perr != nil {
				return f, fmt.Errorf("netfront: multi-queue-max-queues = %q: not a number", v)
			}
			f.Queues = int(min(uint64(want), max(n, 1)))
		}
	}
	return f, ctx.Err()
}

// readMAC reads the vif's MAC address from the frontend directory.
func readMAC(ctx context.Context, xs xenstore.Ops, dir string) (net.HardwareAddr, error) {
	v, err := xs.Read(ctx, dir+"/mac")
	if err != nil {
		return nil, fmt.Errorf("netfront: reading %s/mac: %w", dir, err)
	}
	mac, err := net.ParseMAC(string(v))
	if err != nil || len(mac) != 6 {
		return nil, fmt.Errorf("netfront: %s/mac = %q is not an Ethernet address", dir, v)
	}
	return mac, nil
}

// readMTU reads the optional mtu key the toolstack may set (Xen 4.17 libxl writes it).
func readMTU(ctx context.Context, xs xenstore.Ops, dir string, sg bool) int {
	mtu := 1500
	if v, err := xs.Read(ctx, dir+"/mtu"); err == nil {
		if n, err := strconv.Atoi(string(v)); err == nil && n >= 68 && n <= 65535-14 {
			mtu = n
		}
	}
	if !sg && mtu > 1500 {
		// Without scatter-gather Linux netfront keeps to ETH_DATA_LEN (xennet_change_mtu).
		mtu = 1500
	}
	return mtu
}

// publish writes what the backend needs to connect, inside the handshake's transaction.
func (c *conn) publish(ctx context.Context, tx *xenstore.Tx) error {
	w := func(key, val string) error { return tx.Write(ctx, c.dev.Path+"/"+key, []byte(val)) }
	u := func(v uint32) string { return strconv.FormatUint(uint64(v), 10) }
	queueKeys := func(dir string, q *queue) error {
		kw := func(key, val string) error { return tx.Write(ctx, dir+key, []byte(val)) }
		if err := kw("tx-ring-ref", u(uint32(q.txRingRef))); err != nil {
			return err
		}
		if err := kw("rx-ring-ref", u(uint32(q.rxRingRef))); err != nil {
			return err
		}
		if c.features.SplitEventChannels {
			if err := kw("event-channel-tx", u(uint32(q.tx.ch.Port()))); err != nil {
				return err
			}
			return kw("event-channel-rx", u(uint32(q.rx.ch.Port())))
		}
		return kw("event-channel", u(uint32(q.tx.ch.Port())))
	}
	if len(c.queues) == 1 {
		if err := queueKeys(c.dev.Path+"/", c.queues[0]); err != nil {
			return err
		}
	} else {
		if err := w("multi-queue-num-queues", strconv.Itoa(len(c.queues))); err != nil {
			return err
		}
		for i, q := range c.queues {
			if err := queueKeys(fmt.Sprintf("%s/queue-%d/", c.dev.Path, i), q); err != nil {
				return err
			}
		}
	}
	keys := []struct {
		key string
		on  bool
	}{
		{"request-rx-copy", true},
		{"feature-rx-notify", true},
		{"feature-sg", c.features.SG},
		{"feature-gso-tcpv4", c.features.GSOTCPv4},
		{"feature-gso-tcpv6", c.features.GSOTCPv6},
		{"feature-ipv6-csum-offload", c.features.IPv6CsumOffload},
		{"feature-no-csum-offload", !c.features.CsumOffload},
	}
	for _, k := range keys {
		if k.on {
			if err := w(k.key, "1"); err != nil {
				return err
			}
		}
	}
	return nil
}

// unpublish removes the rings' references and event channels publish wrote, in one
// transaction, for an attempt given up after it published them. A backend may have read the
// attempt's Connected before it was taken back and still be on its way to connect (netback
// walks Closing, Closed, InitWait, then connects, reading the keys only then): it must find
// no ring to map rather than references that, once revoked, may grant the pages of the next
// attempt. A key already gone is no error.
func (c *conn) unpublish(ctx context.Context) error {
	return c.d.p.XenStore.Update(ctx, func(tx *xenstore.Tx) error {
		rm := func(path string) error {
			if err := tx.Rm(ctx, path); err != nil && !errors.Is(err, xen.ENOENT) {
				return err
			}
			return nil
		}
		if len(c.queues) > 1 {
			for i := range c.queues {
				if err := rm(fmt.Sprintf("%s/queue-%d", c.dev.Path, i)); err != nil {
					return err
				}
			}
			return rm(c.dev.Path + "/multi-queue-num-queues")
		}
		for _, key := range []string{"tx-ring-ref", "rx-ring-ref", "event-channel", "event-channel-tx", "event-channel-rx"} {
			if err := rm(c.dev.Path + "/" + key); err != nil {
				return err
			}
		}
		return nil
	})
}
