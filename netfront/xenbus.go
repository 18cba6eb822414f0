// Negotiation with the backend through XenStore, key for key as Linux netfront writes them.

package netfront

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// The keys connect reads before it builds the queues: what the backend offers (written before
// it went to InitWait) and the toolstack's keys in the frontend's directory.
const (
	keyRxCopy = iota
	keyRxNotify
	keySG
	keyGSOv4
	keyGSOv6
	keyIPv6Csum
	keySplit
	keyMaxQueues
	keyMAC
	keyMTU
	numKeys
)

var backendKeys = [...]string{
	keyRxCopy:    "feature-rx-copy",
	keyRxNotify:  "feature-rx-notify",
	keySG:        "feature-sg",
	keyGSOv4:     "feature-gso-tcpv4",
	keyGSOv6:     "feature-gso-tcpv6",
	keyIPv6Csum:  "feature-ipv6-csum-offload",
	keySplit:     "feature-split-event-channels",
	keyMaxQueues: "multi-queue-max-queues",
}

// keyRead is one key's value as read, or why it could not be.
type keyRead struct {
	v   []byte
	err error
}

// offer is what the keys say, checked: the features negotiated, the MAC address and the MTU.
type offer struct {
	features Features
	mac      net.HardwareAddr
	mtu      int
}

// readOffer reads every key connect needs at once: the requests go out together and the
// daemon answers them in turn, so the guest waits for one round trip instead of one a key
// (ten, sequentially, under emulation a millisecond or more each). Every value is then checked
// as if it had been read alone (negotiate).
func readOffer(ctx context.Context, xs xenstore.Ops, backend, front string, cfg Config) (offer, error) {
	var paths [numKeys]string
	for i, k := range backendKeys {
		paths[i] = backend + "/" + k
	}
	paths[keyMAC], paths[keyMTU] = front+"/mac", front+"/mtu"
	if cfg.Queues <= 1 {
		paths[keyMaxQueues] = "" // not asked for: not read
	}
	var reads [numKeys]keyRead
	together(numKeys, func(i int) {
		if paths[i] == "" {
			reads[i].err = xen.ENOENT
			return
		}
		reads[i].v, reads[i].err = xs.Read(ctx, paths[i])
	})
	if err := ctx.Err(); err != nil {
		return offer{}, err
	}
	return negotiate(reads, paths, cfg)
}

// negotiate checks the values readOffer read (paths name them, for errors) and keeps the
// features the configuration wants. A feature flag is on when present and a non-zero number;
// absent, unreadable or not a number, it is off.
func negotiate(reads [numKeys]keyRead, paths [numKeys]string, cfg Config) (offer, error) {
	var o offer
	f := &o.features
	flag := func(k int) bool {
		on, err := parseBool(reads[k].v, reads[k].err)
		return err == nil && on
	}
	f.RxCopy = flag(keyRxCopy)
	if !f.RxCopy {
		return o, ErrNoRxCopy
	}
	f.RxNotify = flag(keyRxNotify)
	f.SG = !cfg.NoSG && flag(keySG)
	// GSO needs SG: a GSO frame is larger than a page.
	f.GSOTCPv4 = f.SG && !cfg.NoGSO && flag(keyGSOv4)
	f.GSOTCPv6 = f.SG && !cfg.NoGSO && flag(keyGSOv6)
	// Checksum offload over IPv4 is implied by the protocol (feature-no-csum-offload turns it
	// off); IPv6 needs its own flag.
	f.CsumOffload = !cfg.NoCsumOffload
	f.IPv6CsumOffload = f.CsumOffload && flag(keyIPv6Csum)
	f.SplitEventChannels = !cfg.NoSplitEventChannels && flag(keySplit)
	f.Queues = 1
	if want := max(cfg.Queues, 1); want > 1 && reads[keyMaxQueues].err == nil {
		v := reads[keyMaxQueues].v
		n, perr := strconv.ParseUint(string(v), 10, 16)
		if perr != nil {
			return o, fmt.Errorf("netfront: %s = %q: not a number", paths[keyMaxQueues], v)
		}
		f.Queues = int(min(uint64(want), max(n, 1)))
	}
	var err error
	if o.mac, err = parseMAC(paths[keyMAC], reads[keyMAC].v, reads[keyMAC].err); err != nil {
		return o, err
	}
	o.mtu = parseMTU(reads[keyMTU].v, reads[keyMTU].err, f.SG)
	return o, nil
}

// parseBool reads a backend feature flag: present and "1" means yes; absent means no.
func parseBool(v []byte, err error) (bool, error) {
	if errors.Is(err, xen.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	n, err := strconv.ParseUint(string(v), 10, 32)
	if err != nil {
		return false, fmt.Errorf("netfront: %q: not a number", v)
	}
	return n != 0, nil
}

// parseMAC checks the vif's MAC address, read from path.
func parseMAC(path string, v []byte, err error) (net.HardwareAddr, error) {
	if err != nil {
		return nil, fmt.Errorf("netfront: reading %s: %w", path, err)
	}
	mac, err := net.ParseMAC(string(v))
	if err != nil || len(mac) != 6 {
		return nil, fmt.Errorf("netfront: %s = %q is not an Ethernet address", path, v)
	}
	return mac, nil
}

// parseMTU checks the optional mtu key the toolstack may set (Xen 4.17 libxl writes it).
func parseMTU(v []byte, err error, sg bool) int {
	mtu := 1500
	if err == nil {
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

// readMTU reads and checks the frontend directory's mtu key on its own.
func readMTU(ctx context.Context, xs xenstore.Ops, dir string, sg bool) int {
	v, err := xs.Read(ctx, dir+"/mtu")
	return parseMTU(v, err, sg)
}

// publish writes what the backend needs to connect, inside the handshake's transaction. The
// writes go out together, as readOffer's reads do: the transaction costs the guest one round
// trip for all its keys, not one a key.
func (c *conn) publish(ctx context.Context, tx *xenstore.Tx) error {
	keys := c.frontendKeys()
	errs := make([]error, len(keys))
	together(len(keys), func(i int) { errs[i] = tx.Write(ctx, keys[i].path, []byte(keys[i].value)) })
	return errors.Join(errs...)
}

// frontendKey is one key publish writes.
type frontendKey struct{ path, value string }

// frontendKeys lists what publish writes, as Linux netfront writes it: each queue's ring
// references and event channels (in queue-N/ with several queues), then the features asked for.
func (c *conn) frontendKeys() []frontendKey {
	var keys []frontendKey
	u := func(v uint32) string { return strconv.FormatUint(uint64(v), 10) }
	queueKeys := func(dir string, q *queue) {
		keys = append(keys, frontendKey{dir + "tx-ring-ref", u(uint32(q.txRingRef))}, frontendKey{dir + "rx-ring-ref", u(uint32(q.rxRingRef))})
		if c.features.SplitEventChannels {
			keys = append(keys, frontendKey{dir + "event-channel-tx", u(uint32(q.tx.ch.Port()))}, frontendKey{dir + "event-channel-rx", u(uint32(q.rx.ch.Port()))})
		} else {
			keys = append(keys, frontendKey{dir + "event-channel", u(uint32(q.tx.ch.Port()))})
		}
	}
	if len(c.queues) == 1 {
		queueKeys(c.dev.Path+"/", c.queues[0])
	} else {
		keys = append(keys, frontendKey{c.dev.Path + "/multi-queue-num-queues", strconv.Itoa(len(c.queues))})
		for i, q := range c.queues {
			queueKeys(fmt.Sprintf("%s/queue-%d/", c.dev.Path, i), q)
		}
	}
	for _, k := range []struct {
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
	} {
		if k.on {
			keys = append(keys, frontendKey{c.dev.Path + "/" + k.key, "1"})
		}
	}
	return keys
}

// together runs fn(0), ..., fn(n-1) at once and waits for them all: XenStore requests issued
// so share one round trip (the client matches replies by request id).
func together(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(i)
		}()
	}
	wg.Wait()
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
