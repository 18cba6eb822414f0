package dhcp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLeaseFrom(t *testing.T) {
	tests := []struct {
		name string
		edit func(m *message)
		want Lease // Server and the parts not named default to offer(1)'s
		bad  bool
	}{
		{"offer", func(m *message) {}, Lease{
			Addr: netip.MustParsePrefix("10.0.0.2/24"), Gateway: serverIP,
			DNS: []netip.Addr{ip("10.0.0.53")}, Server: serverIP, Duration: time.Hour,
		}, false},
		{"no mask means /24", func(m *message) { m.maskBits = 0; m.yiaddr = ip("172.16.5.9") }, Lease{
			Addr: netip.MustParsePrefix("172.16.5.9/24"), Gateway: serverIP,
			DNS: []netip.Addr{ip("10.0.0.53")}, Server: serverIP, Duration: time.Hour,
		}, false},
		{"/32, no router, no DNS, no lease time", func(m *message) {
			m.maskBits, m.routers, m.dns, m.hasLease = 32, nil, nil, false
		}, Lease{Addr: netip.MustParsePrefix("10.0.0.2/32"), Server: serverIP}, false},
		{"first router only; unusable router and DNS dropped", func(m *message) {
			m.routers = []netip.Addr{ip("0.0.0.0"), serverIP}
			m.dns = []netip.Addr{ip("224.0.0.1"), ip("10.0.0.53"), ip("255.255.255.255"), ip("127.0.0.1"), ip("1.1.1.1")}
		}, Lease{
			Addr: netip.MustParsePrefix("10.0.0.2/24"), DNS: []netip.Addr{ip("10.0.0.53"), ip("1.1.1.1")},
			Server: serverIP, Duration: time.Hour,
		}, false},
		{"infinite", func(m *message) { m.leaseSecs = 0xffffffff }, Lease{
			Addr: netip.MustParsePrefix("10.0.0.2/24"), Gateway: serverIP,
			DNS: []netip.Addr{ip("10.0.0.53")}, Server: serverIP, Duration: InfiniteLease,
		}, false},
		{"no yiaddr", func(m *message) { m.yiaddr = zeroIP }, Lease{}, true},
		{"broadcast yiaddr", func(m *message) { m.yiaddr = broadcastIP }, Lease{}, true},
		{"multicast yiaddr", func(m *message) { m.yiaddr = ip("239.1.1.1") }, Lease{}, true},
		{"loopback yiaddr", func(m *message) { m.yiaddr = ip("127.0.0.2") }, Lease{}, true},
		{"network address", func(m *message) { m.yiaddr = ip("10.0.0.0") }, Lease{}, true},
		{"subnet broadcast", func(m *message) { m.yiaddr = ip("10.0.0.255") }, Lease{}, true},
		{"subnet broadcast /30", func(m *message) { m.yiaddr, m.maskBits = ip("10.0.0.3"), 30 }, Lease{}, true},
		{"no server id", func(m *message) { m.serverID = netip.Addr{} }, Lease{}, true},
		{"zero server id", func(m *message) { m.serverID = zeroIP }, Lease{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := offer(1)
			tt.edit(&m)
			l, err := leaseFrom(&m)
			if tt.bad {
				require.ErrorIs(t, err, errBadLease)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, l)
		})
	}
}

func TestLeaseString(t *testing.T) {
	l := Lease{
		Addr: netip.MustParsePrefix("10.0.0.2/24"), Gateway: serverIP,
		DNS: []netip.Addr{ip("10.0.0.53")}, Server: serverIP, Duration: 90 * time.Minute,
	}
	assert.Equal(t, "10.0.0.2/24 gw 10.0.0.1 dns [10.0.0.53] from 10.0.0.1 for 1h30m0s", l.String())
	l.Duration = InfiniteLease
	assert.Equal(t, "10.0.0.2/24 gw 10.0.0.1 dns [10.0.0.53] from 10.0.0.1 forever", l.String())
	l.Duration = 0
	assert.Equal(t, "10.0.0.2/24 gw 10.0.0.1 dns [10.0.0.53] from 10.0.0.1", l.String())
}
