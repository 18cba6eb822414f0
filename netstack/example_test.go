package netstack_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/netip"
	"time"

	"github.com/tamaxen/tamaxen/netstack"
	"github.com/tamaxen/tamaxen/netstack/hostnet"
	"github.com/tamaxen/tamaxen/netstack/netcfg"
	"github.com/tamaxen/tamaxen/xen/sim/machine"
)

// Open puts gVisor's TCP/IP stack on the vif, configured from the guest's command line (an
// empty one asks DHCP); its Listen, ListenPacket and DialContext are the standard library's
// net types. Here the vif is the simulated Xen's, and hostnet plays dom0's part on the bridge:
// a DHCP server, and a peer at 10.0.0.1. On Xen the platform and command line come from the
// board, as package unikernel does.
func ExampleOpen() {
	m, err := machine.New(machine.Config{MAC: "00:16:3e:00:00:02"})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	host, err := hostnet.New(m.Backend, hostnet.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer host.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := netcfg.Parse("") // extra= of the xl config; "ip=10.0.0.2/24 gw=10.0.0.1" for a fixed address
	if err != nil {
		log.Fatal(err)
	}
	s, err := netstack.Open(ctx, m.Platform, netstack.Config{Net: nc})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	fmt.Println("IPv4 address from DHCP:", s.Addr())
	fmt.Println("name servers:", s.DNS())

	// A TCP echo server on the guest's port 7, dual-stack as net.Listen is on Linux...
	l, err := s.Listen("tcp", ":7")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c)
	}()

	// ... and a client on the host's side of the bridge.
	c, err := host.Dial(ctx, "tcp", netip.AddrPortFrom(s.Addr().Addr(), 7))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "hello, guest"); err != nil {
		log.Fatal(err)
	}
	echo := make([]byte, len("hello, guest"))
	if _, err := io.ReadFull(c, echo); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("echoed by %s: %s\n", c.RemoteAddr(), echo)
	// Output:
	// IPv4 address from DHCP: 10.0.0.2/24
	// name servers: [10.0.0.1]
	// echoed by 10.0.0.2:7: hello, guest
}
