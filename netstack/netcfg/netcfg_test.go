package netcfg

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func TestParse(t *testing.T) {
	pfx := netip.MustParsePrefix
	addr := netip.MustParseAddr
	tests := []struct {
		name    string
		cmdline string
		want    Config
	}{
		{"empty line asks DHCP", "", Config{DHCP: true}},
		{"only other words", "console=hvc0 quiet loglevel=7 =x ip", Config{DHCP: true}},
		{"ip with length", "ip=10.0.0.2/24", Config{Addr: pfx("10.0.0.2/24")}},
		{"ip without length is /24", "ip=192.168.1.7", Config{Addr: pfx("192.168.1.7/24")}},
		{"ip /16", "ip=172.16.3.4/16", Config{Addr: pfx("172.16.3.4/16")}},
		{"ip /31 may use both ends", "ip=10.0.0.0/31", Config{Addr: pfx("10.0.0.0/31")}},
		{"ip /32", "ip=10.0.0.255/32", Config{Addr: pfx("10.0.0.255/32")}},
		{"ip=dhcp", "ip=dhcp", Config{DHCP: true}},
		{"ip=dhcp overrides earlier ip", "ip=10.0.0.2 ip=dhcp", Config{DHCP: true}},
		{"later ip overrides ip=dhcp", "ip=dhcp ip=10.0.0.3/8", Config{Addr: pfx("10.0.0.3/8")}},
		{"dhcp=off", "dhcp=off", Config{}},
		{"dhcp=no", "dhcp=no", Config{}},
		{"dhcp=0", "dhcp=0", Config{}},
		{"dhcp=false", "dhcp=false", Config{}},
		{"dhcp=off then on", "dhcp=off dhcp=on", Config{DHCP: true}},
		{"dhcp=yes and 1", "dhcp=yes dhcp=1 dhcp=true", Config{DHCP: true}},
		{"dhcp=off with static ip", "dhcp=off ip=10.0.0.2/24", Config{Addr: pfx("10.0.0.2/24")}},
		{"static ip wins over dhcp=on", "ip=10.0.0.2/24 dhcp=on", Config{Addr: pfx("10.0.0.2/24")}},
		{"ip=dhcp after dhcp=off turns it on", "dhcp=off ip=dhcp", Config{DHCP: true}},
		{"gw", "ip=10.0.0.2/24 gw=10.0.0.1", Config{Addr: pfx("10.0.0.2/24"), Gateway: addr("10.0.0.1")}},
		{"gw before ip", "gw=10.0.0.1 ip=10.0.0.2", Config{Addr: pfx("10.0.0.2/24"), Gateway: addr("10.0.0.1")}},
		{"gw with dhcp", "gw=10.9.0.1", Config{DHCP: true, Gateway: addr("10.9.0.1")}},
		{"ip6 with length", "ip6=fd00::2/48", Config{DHCP: true, Addr6: pfx("fd00::2/48")}},
		{"ip6 without length is /64", "ip6=fd00::2", Config{DHCP: true, Addr6: pfx("fd00::2/64")}},
		{"gw6 link-local", "ip6=fd00::2 gw6=fe80::1", Config{DHCP: true, Addr6: pfx("fd00::2/64"), Gateway6: addr("fe80::1")}},
		{"gw6 global", "gw6=2001:db8::1", Config{DHCP: true, Gateway6: addr("2001:db8::1")}},
		{"dns one", "dns=10.0.0.1", Config{DHCP: true, DNS: addrs("10.0.0.1")}},
		{"dns mixed", "dns=10.0.0.1,2001:db8::53", Config{DHCP: true, DNS: addrs("10.0.0.1", "2001:db8::53")}},
		{"dns four", "dns=1.1.1.1,8.8.8.8,9.9.9.9,::2", Config{DHCP: true, DNS: addrs("1.1.1.1", "8.8.8.8", "9.9.9.9", "::2")}},
		{"dns last wins", "dns=1.1.1.1,8.8.8.8 dns=9.9.9.9", Config{DHCP: true, DNS: addrs("9.9.9.9")}},
		{"mtu", "mtu=9000", Config{DHCP: true, MTU: 9000}},
		{"mtu min", "mtu=68", Config{DHCP: true, MTU: 68}},
		{"mtu max", "mtu=65535", Config{DHCP: true, MTU: 65535}},
		{"mtu leading zero", "mtu=01500", Config{DHCP: true, MTU: 1500}},
		{"mtu 1280 with ip6", "ip6=fd00::2 mtu=1280", Config{DHCP: true, Addr6: pfx("fd00::2/64"), MTU: 1280}},
		{"hostname", "hostname=guest-1", Config{DHCP: true, Hostname: "guest-1"}},
		{"hostname digits first", "hostname=9lives", Config{DHCP: true, Hostname: "9lives"}},
		{"hostname 63", "hostname=" + long(63), Config{DHCP: true, Hostname: long(63)}},
		{"txbatch", "txbatch=1", Config{DHCP: true, TxBatch: 1}},
		{"txbatch max", "txbatch=16", Config{DHCP: true, TxBatch: MaxTxBatch}},
		{"unknown keys ignored", "IP=1 ipv6=x netmask=y", Config{DHCP: true}},
		{"tabs and newlines separate words", "ip=10.0.0.2/24\tgw=10.0.0.1\nmtu=1500",
			Config{Addr: pfx("10.0.0.2/24"), Gateway: addr("10.0.0.1"), MTU: 1500}},
		{"everything",
			"console=hvc0 ip=10.0.0.2/24 gw=10.0.0.1 dns=10.0.0.1,2001:db8::53 ip6=fd00::2/64 gw6=fe80::1 mtu=1500 hostname=guest",
			Config{
				Addr: pfx("10.0.0.2/24"), Gateway: addr("10.0.0.1"),
				Addr6: pfx("fd00::2/64"), Gateway6: addr("fe80::1"),
				DNS: addrs("10.0.0.1", "2001:db8::53"), MTU: 1500, Hostname: "guest",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.cmdline)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)

			again, err := Parse(got.String())
			require.NoError(t, err, "String() = %q", got.String())
			assert.Equal(t, got, again, "String() = %q", got.String())
		})
	}
}

func long(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		cmdline string
		word    string // the word the error must name
		msg     string // part of the message
	}{
		{"ip=", "ip=", "empty"},
		{"ip=10.0.0", "ip=10.0.0", "ParseAddr"},
		{"ip=10.0.0.2/33", "ip=10.0.0.2/33", "out of range"},
		{"ip=10.0.0.2/024", "ip=10.0.0.2/024", "bad bits"},
		{"ip=10.0.0.2/", "ip=10.0.0.2/", "bad bits"},
		{"ip=010.0.0.2", "ip=010.0.0.2", "leading zero"},
		{"ip=10.0.0.2/0", "ip=10.0.0.2/0", "prefix length 0"},
		{"ip=fd00::2/64", "ip=fd00::2/64", "not an IPv4"},
		{"ip=::ffff:10.0.0.2", "ip=::ffff:10.0.0.2", "not an IPv4"},
		{"ip=0.0.0.0", "ip=0.0.0.0", "unspecified"},
		{"ip=127.0.0.2/8", "ip=127.0.0.2/8", "loopback"},
		{"ip=224.0.0.1/24", "ip=224.0.0.1/24", "multicast"},
		{"ip=255.255.255.255/32", "ip=255.255.255.255/32", "broadcast"},
		{"ip=10.0.0.0/24", "ip=10.0.0.0/24", "network address"},
		{"ip=10.0.0.255", "ip=10.0.0.255", "broadcast address"},
		{"ip=dhcp6", "ip=dhcp6", "ParseAddr"},
		{"ip=10.0.0.2:10.0.0.1::255.255.255.0", "ip=10.0.0.2:10.0.0.1::255.255.255.0", "ParseAddr"},
		{"ip=10.0.0.2/24 ip=x", "ip=x", "ParseAddr"},
		{"ip=x ip=10.0.0.2/24", "ip=x", "ParseAddr"},
		{"gw=", "gw=", "empty"},
		{"gw=fe80::1", "gw=fe80::1", "not an IPv4"},
		{"gw=10.0.0.1/24", "gw=10.0.0.1/24", "ParseAddr"},
		{"gw=0.0.0.0", "gw=0.0.0.0", "unspecified"},
		{"gw=255.255.255.255", "gw=255.255.255.255", "broadcast"},
		{"ip=10.0.0.2/24 gw=10.0.1.1", "gw=10.0.1.1", `not inside the subnet of ip=10.0.0.2/24`},
		{"gw=10.0.1.1 ip=10.0.0.2", "gw=10.0.1.1", `not inside the subnet of ip=10.0.0.2`},
		{"ip=10.0.0.2/24 gw=10.0.0.2", "gw=10.0.0.2", "own address"},
		{"ip6=", "ip6=", "empty"},
		{"ip6=10.0.0.2", "ip6=10.0.0.2", "not an IPv6"},
		{"ip6=::ffff:10.0.0.2", "ip6=::ffff:10.0.0.2", "not an IPv6"},
		{"ip6=fd00::2/129", "ip6=fd00::2/129", "out of range"},
		{"ip6=fd00::2/0", "ip6=fd00::2/0", "prefix length 0"},
		{"ip6=fe80::2%eth0", "ip6=fe80::2%eth0", "zone"},
		{"ip6=fe80::2%eth0/64", "ip6=fe80::2%eth0/64", "zones"},
		{"ip6=::", "ip6=::", "unspecified"},
		{"ip6=::1/128", "ip6=::1/128", "loopback"},
		{"ip6=ff02::1", "ip6=ff02::1", "multicast"},
		{"gw6=10.0.0.1", "gw6=10.0.0.1", "not an IPv6"},
		{"gw6=fe80::1%eth0", "gw6=fe80::1%eth0", "zone"},
		{"gw6=ff02::2", "gw6=ff02::2", "multicast"},
		{"gw6=", "gw6=", "empty"},
		{"dns=", "dns=", "empty"},
		{"dns=10.0.0.1,", "dns=10.0.0.1,", "empty"},
		{"dns=,10.0.0.1", "dns=,10.0.0.1", "empty"},
		{"dns=10.0.0.1;10.0.0.2", "dns=10.0.0.1;10.0.0.2", "ParseAddr"},
		{"dns=1.1.1.1,1.0.0.1,8.8.8.8,8.8.4.4,9.9.9.9", "dns=1.1.1.1,1.0.0.1,8.8.8.8,8.8.4.4,9.9.9.9", "more than 4"},
		{"dns=0.0.0.0", "dns=0.0.0.0", "not a unicast"},
		{"dns=224.0.0.251", "dns=224.0.0.251", "not a unicast"},
		{"dns=255.255.255.255", "dns=255.255.255.255", "not a unicast"},
		{"dns=::ffff:1.1.1.1", "dns=::ffff:1.1.1.1", "IPv4-mapped"},
		{"dns=fe80::53%eth0", "dns=fe80::53%eth0", "zone"},
		{"dhcp=", "dhcp=", "on or off"},
		{"dhcp=maybe", "dhcp=maybe", "on or off"},
		{"dhcp=ON", "dhcp=ON", "on or off"},
		{"mtu=", "mtu=", "68 to 65535"},
		{"mtu=67", "mtu=67", "68 to 65535"},
		{"mtu=65536", "mtu=65536", "68 to 65535"},
		{"mtu=-1500", "mtu=-1500", "68 to 65535"},
		{"mtu=+1500", "mtu=+1500", "68 to 65535"},
		{"mtu=1500b", "mtu=1500b", "68 to 65535"},
		{"mtu=99999999999999999999", "mtu=99999999999999999999", "68 to 65535"},
		{"ip6=fd00::2 mtu=1279", "mtu=1279", "at least 1280"},
		{"mtu=576 ip6=fd00::2", "mtu=576", "at least 1280"},
		{"hostname=", "hostname=", "1 to 63"},
		{"txbatch=0", "txbatch=0", "1 to 16"},
		{"txbatch=17", "txbatch=17", "1 to 16"},
		{"txbatch=x", "txbatch=x", "1 to 16"},
		{"hostname=" + long(64), "hostname=" + long(64), "1 to 63"},
		{"hostname=-guest", "hostname=-guest", "'-'"},
		{"hostname=guest-", "hostname=guest-", "'-'"},
		{"hostname=guest.example.org", "hostname=guest.example.org", `'.'`},
		{"hostname=gu_est", "hostname=gu_est", `'_'`},
		{"hostname=gäst", "hostname=gäst", "non-ASCII"},
		{"hostname=a=b", "hostname=a=b", `'='`},
	}
	for _, tt := range tests {
		t.Run(tt.cmdline, func(t *testing.T) {
			c, err := Parse("console=hvc0 " + tt.cmdline + " quiet")
			require.Error(t, err)
			assert.Equal(t, Config{}, c)
			var werr *Error
			require.True(t, errors.As(err, &werr), "%T", err)
			assert.Equal(t, tt.word, werr.Word)
			assert.Contains(t, err.Error(), tt.msg)
			assert.Contains(t, err.Error(), tt.word)
		})
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		c    Config
		want string
	}{
		{Config{}, "dhcp=off"},
		{Config{DHCP: true}, "ip=dhcp"},
		{Config{DHCP: true, MTU: 1500}, "ip=dhcp mtu=1500"},
		{
			Config{
				Addr: netip.MustParsePrefix("10.0.0.2/24"), Gateway: netip.MustParseAddr("10.0.0.1"),
				Addr6: netip.MustParsePrefix("fd00::2/64"), Gateway6: netip.MustParseAddr("fe80::1"),
				DNS: addrs("10.0.0.1", "2001:db8::53"), MTU: 9000, Hostname: "guest",
			},
			"ip=10.0.0.2/24 gw=10.0.0.1 ip6=fd00::2/64 gw6=fe80::1 dns=10.0.0.1,2001:db8::53 mtu=9000 hostname=guest",
		},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.c.String())
		})
	}
}

func TestErrorUnwrap(t *testing.T) {
	_, err := Parse("dhcp=maybe")
	var werr *Error
	require.ErrorAs(t, err, &werr)
	assert.Equal(t, werr.Err, errors.Unwrap(err))
}
