package netcfg

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics and that whatever it accepts is self-consistent:
// every field within its documented range, and String printing a line that Parse reads back
// to the same Config.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"",
		"ip=10.0.0.2/24 gw=10.0.0.1 dns=10.0.0.1,2001:db8::53 ip6=fd00::2/64 gw6=fe80::1 mtu=1500 hostname=guest",
		"ip=dhcp dhcp=off",
		"dhcp=off ip=10.0.0.2",
		"ip=10.0.0.0/31 gw=10.0.0.1",
		"ip6=fe80::2%eth0 gw6=fe80::1%eth0",
		"dns=1.1.1.1,,2.2.2.2 mtu=01280 hostname=-x",
		"console=hvc0 root=/dev/xvda1 ip=10.0.0.2:::::eth0:off",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cmdline string) {
		c, err := Parse(cmdline)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "netcfg: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if c.Addr.IsValid() && (!c.Addr.Addr().Is4() || c.DHCP) {
			t.Fatalf("bad IPv4 config: %+v", c)
		}
		if c.Gateway.IsValid() && !c.Gateway.Is4() {
			t.Fatalf("gateway %v", c.Gateway)
		}
		if c.Gateway.IsValid() && c.Addr.IsValid() && !c.Addr.Contains(c.Gateway) {
			t.Fatalf("gateway %v outside %v", c.Gateway, c.Addr)
		}
		if c.Addr6.IsValid() && (!c.Addr6.Addr().Is6() || c.Addr6.Addr().Is4In6()) {
			t.Fatalf("ip6 %v", c.Addr6)
		}
		if len(c.DNS) > MaxDNS || (c.DNS != nil && len(c.DNS) == 0) {
			t.Fatalf("dns %v", c.DNS)
		}
		if c.MTU != 0 && (c.MTU < MinMTU || c.MTU > MaxMTU) {
			t.Fatalf("mtu %d", c.MTU)
		}
		if c.Hostname != "" && checkHostname(c.Hostname) != nil {
			t.Fatalf("hostname %q", c.Hostname)
		}
		line := c.String()
		if strings.ContainsAny(line, "\n\r\t") {
			t.Fatalf("String() is not one line: %q", line)
		}
		again, err := Parse(line)
		if err != nil {
			t.Fatalf("Parse(%q): %v", line, err)
		}
		if again.String() != line || !reflect.DeepEqual(c, again) {
			t.Fatalf("round trip:\n%+v\n%+v", c, again)
		}
	})
}
