package netfront

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
)

// linuxOffer is what Linux netback writes, and the toolstack's mac and mtu.
func linuxOffer() [numKeys]keyRead {
	var r [numKeys]keyRead
	for i := range r {
		r[i].v = []byte("1")
	}
	r[keyMaxQueues].v = []byte("4")
	r[keyMAC].v = []byte("00:16:3e:5a:11:01")
	r[keyMTU].v = []byte("1500")
	return r
}

func offerPaths() (p [numKeys]string) {
	for i, k := range backendKeys {
		p[i] = "/local/domain/0/backend/vif/7/0/" + k
	}
	p[keyMAC], p[keyMTU] = "device/vif/0/mac", "device/vif/0/mtu"
	return p
}

// What the keys say is checked as when each was read on its own.
func TestNegotiate(t *testing.T) {
	missing := func(k int) func(r *[numKeys]keyRead) {
		return func(r *[numKeys]keyRead) { r[k] = keyRead{err: xen.ENOENT} }
	}
	set := func(k int, v string) func(r *[numKeys]keyRead) {
		return func(r *[numKeys]keyRead) { r[k].v = []byte(v) }
	}
	for _, tc := range []struct {
		name   string
		cfg    Config
		change func(r *[numKeys]keyRead)
		err    string
		check  func(t *testing.T, o offer)
	}{
		{name: "everything", cfg: Config{Queues: 2}, check: func(t *testing.T, o offer) {
			assert.Equal(t, Features{RxCopy: true, RxNotify: true, SG: true, GSOTCPv4: true, GSOTCPv6: true,
				CsumOffload: true, IPv6CsumOffload: true, SplitEventChannels: true, Queues: 2}, o.features)
			assert.Equal(t, "00:16:3e:5a:11:01", o.mac.String())
			assert.Equal(t, 1500, o.mtu)
		}},
		{name: "no rx-copy", change: missing(keyRxCopy), err: ErrNoRxCopy.Error()},
		{name: "garbage flag is off", change: set(keySG, "yes"), check: func(t *testing.T, o offer) {
			assert.False(t, o.features.SG)
			assert.False(t, o.features.GSOTCPv4, "GSO needs SG")
		}},
		{name: "queues capped by the backend", cfg: Config{Queues: 8}, check: func(t *testing.T, o offer) { assert.Equal(t, 4, o.features.Queues) }},
		{name: "queues garbage", cfg: Config{Queues: 2}, change: set(keyMaxQueues, "many"), err: "not a number"},
		{name: "queues absent", cfg: Config{Queues: 2}, change: missing(keyMaxQueues), check: func(t *testing.T, o offer) { assert.Equal(t, 1, o.features.Queues) }},
		{name: "no mac", change: missing(keyMAC), err: "reading device/vif/0/mac"},
		{name: "bad mac", change: set(keyMAC, "00:16:3e:5a:11"), err: "not an Ethernet address"},
		{name: "jumbo without SG", change: func(r *[numKeys]keyRead) { r[keyMTU].v = []byte("9000"); r[keySG].v = []byte("0") },
			check: func(t *testing.T, o offer) { assert.Equal(t, 1500, o.mtu) }},
		{name: "jumbo", change: set(keyMTU, "9000"), check: func(t *testing.T, o offer) { assert.Equal(t, 9000, o.mtu) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := linuxOffer()
			if tc.change != nil {
				tc.change(&r)
			}
			o, err := negotiate(r, offerPaths(), tc.cfg)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			tc.check(t, o)
		})
	}
}

// Whatever the backend and the toolstack wrote, negotiate answers without panicking, and what
// it agrees to is consistent: GSO only with SG, between 1 and the queues asked for, a 6-byte
// MAC, an MTU a frame can carry.
func FuzzNegotiate(f *testing.F) {
	f.Add([]byte("1"), []byte("1"), []byte("4"), []byte("00:16:3e:5a:11:01"), []byte("1500"), uint8(2))
	f.Add([]byte("0"), []byte("x"), []byte("-1"), []byte(""), []byte("70000"), uint8(0))
	f.Fuzz(func(t *testing.T, flag, sg, queues, mac, mtu []byte, want uint8) {
		r := linuxOffer()
		r[keyRxCopy].v, r[keySG].v, r[keyMaxQueues].v, r[keyMAC].v, r[keyMTU].v = flag, sg, queues, mac, mtu
		o, err := negotiate(r, offerPaths(), Config{Queues: int(want)})
		if err != nil {
			return
		}
		f := o.features
		assert.True(t, f.SG || !f.GSOTCPv4 && !f.GSOTCPv6)
		assert.True(t, f.Queues >= 1 && f.Queues <= max(int(want), 1))
		assert.Len(t, o.mac, 6)
		assert.True(t, o.mtu >= 68 && o.mtu <= 65535-14)
	})
}
