// Command echo answers TCP and UDP echo (RFC 862) on port 7, in a unikernel: Go's net package
// on gVisor over netfront.
//
// On Xen: make examples, then xl create examples/echo/echo.cfg. Hosted: go run ./examples/echo
// forwards 127.0.0.1:8007 to the guest's TCP port 7.
package main

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/tamaxen/tamaxen/unikernel"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	u, err := unikernel.Start(ctx, unikernel.Options{
		Name:    "echo",
		Forward: []unikernel.Forward{{Host: "127.0.0.1:8007", Guest: 7}},
	})
	cancel()
	if err != nil {
		unikernel.Fatal("echo", err)
		return
	}
	l, err := u.Listen("tcp", ":7")
	if err != nil {
		u.Exit(err)
		return
	}
	pc, err := u.ListenPacket("udp", ":7")
	if err != nil {
		u.Exit(err)
		return
	}
	go serveTCP(u, l)
	go serveUDP(u, pc)
	u.Logf("ready %s port 7", u.Net.Addr().Addr())
	<-u.Done()
	_ = l.Close()
	_ = pc.Close()
	u.Exit(u.Close())
}

func serveTCP(u *unikernel.Unikernel, l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				u.Logf("accept: %v", err)
			}
			return
		}
		go echo(c)
	}
}

// idleTimeout closes a TCP connection that sends nothing, or takes nothing back, for this long:
// slow and idle clients must not pin the guest's few connections (netstack.Limits).
const idleTimeout = time.Minute

// echo copies what c sends back to it until it stops or stalls.
func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 16<<10)
	for {
		_ = c.SetReadDeadline(time.Now().Add(idleTimeout))
		n, err := c.Read(buf)
		if n > 0 {
			_ = c.SetWriteDeadline(time.Now().Add(idleTimeout))
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func serveUDP(u *unikernel.Unikernel, pc net.PacketConn) {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				u.Logf("udp: %v", err)
			}
			return
		}
		if _, err := pc.WriteTo(buf[:n], from); err != nil {
			u.Logf("udp reply to %v: %v", from, err)
		}
	}
}
