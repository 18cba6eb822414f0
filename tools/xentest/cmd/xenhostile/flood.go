// Floods: SYNs from thousands of random sources (raw frames), and with ordinary sockets a
// connection flood, slow clients that connect and trickle or never send or never read, and a
// UDP flood. Every one is bounded in count and in time.

package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// synFlood: SYNs to the guest's TCP ports (one in twenty to a closed port) from random
// addresses and ports, three in four over IPv4; on-link sources make the guest resolve them.
func synFlood(g *gen) [][]byte {
	var out [][]byte
	n := g.count(2000)
	for i := range n {
		port := g.t.tcpPort(g.r)
		if i%20 == 19 {
			port = uint16(1 + g.r.IntN(6))
		}
		sm := randMAC(g.r)
		if i%4 == 3 {
			src := randIP6(g.r)
			p := ip6{src: src, dst: g.t.ip6, next: protoTCP}.packet(g.syn(src, g.t.ip6, port))
			out = append(out, ether(g.t.mac, sm, etherIPv6, p))
			continue
		}
		src := randIP4(g.r)
		p := ip4{src: src, dst: g.t.ip4, proto: protoTCP, id: uint16(g.r.Uint32()), df: true}.packet(g.syn(src, g.t.ip4, port))
		out = append(out, ether(g.t.mac, sm, etherIPv4, p))
	}
	return out
}

// dialAddrs are the guest's addresses to connect to: IPv4, its global IPv6 address and its
// link-local one (through the bridge).
func dialAddrs(t *target, bridge string) []string {
	return []string{t.ip4.String(), t.ip6.String(), t.ll.String() + "%" + bridge}
}

// tally counts outcomes by name, safely from many goroutines.
type tally struct {
	mu sync.Mutex
	m  map[string]int
}

func (t *tally) add(k string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]int{}
	}
	t.m[k]++
}

func (t *tally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	for _, k := range sortedKeys(t.m) {
		fmt.Fprintf(&b, " %s=%d", k, t.m[k])
	}
	return strings.TrimSpace(b.String())
}

// errKind names a dial or I/O error briefly.
func errKind(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, io.EOF):
		return "closed"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	}
	return "error"
}

// connFlood opens n connections to each target (spread over its TCP ports and its three
// addresses, 64 dials at a time), holds them all open for hold, then closes them, half of
// them with a reset. Half of the connections send a first request (an HTTP GET, or bytes to
// echo) that they never read the answer of.
func connFlood(ts []*target, bridge string, n int, hold time.Duration, deadline time.Time) string {
	var res tally
	var mu sync.Mutex
	var conns []net.Conn
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for _, t := range ts {
		addrs := dialAddrs(t, bridge)
		for i := range n {
			port := t.tcp[i%len(t.tcp)]
			addr := net.JoinHostPort(addrs[i%len(addrs)], fmt.Sprint(port))
			if time.Now().After(deadline) {
				res.add("not-tried")
				continue
			}
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				d := net.Dialer{Timeout: min(3*time.Second, time.Until(deadline))}
				c, err := d.Dial("tcp", addr)
				res.add(t.name + "-" + errKind(err))
				if err != nil {
					return
				}
				if i%2 == 0 {
					_ = c.SetWriteDeadline(time.Now().Add(time.Second))
					_, _ = c.Write(firstRequest(port))
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	time.Sleep(min(hold, time.Until(deadline)))
	for i, c := range conns {
		if tc, ok := c.(*net.TCPConn); ok && i%2 == 1 {
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	}
	return fmt.Sprintf("%d connections held for %v: %s", len(conns), hold, res.String())
}

// firstRequest is what a client of a port sends first: an HTTP request for 80, bytes for echo.
func firstRequest(port uint16) []byte {
	if port == 80 {
		return []byte("GET / HTTP/1.1\r\nHost: guest\r\n\r\n")
	}
	return []byte("hostile\n")
}

// slowClients keeps n connections per target open for d, in four behaviours (one in four
// each): idle (never sends a byte), trickle (one byte a second of a request that never ends),
// deaf (asks for much and never reads: a 1 GiB download, or 1 MiB to echo) and slow reader
// (reads 256 bytes a second of the same). It reports how many connected and how many the
// guest closed before d was over: a guest that times slow clients out closes them.
func slowClients(ts []*target, bridge string, n int, d time.Duration) string {
	var res tally
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	var open, closedEarly atomic.Int64
	for _, t := range ts {
		addrs := dialAddrs(t, bridge)
		for i := range n {
			port := t.tcp[i%len(t.tcp)]
			addr := net.JoinHostPort(addrs[i%len(addrs)], fmt.Sprint(port))
			kind := [...]string{"idle", "trickle", "deaf", "slowreader"}[i/len(t.tcp)%4]
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					res.add(t.name + "-dial-" + errKind(err))
					return
				}
				defer c.Close()
				open.Add(1)
				_ = c.SetDeadline(end)
				err = slowClient(c, kind, port)
				if time.Until(end) > time.Second && err != nil {
					closedEarly.Add(1)
					res.add(t.name + "-" + kind + "-ended-" + errKind(err))
				} else {
					res.add(t.name + "-" + kind + "-held")
				}
			}()
			time.Sleep(10 * time.Millisecond)
		}
	}
	wg.Wait()
	return fmt.Sprintf("%d slow connections over %v, %d ended by the guest early: %s", open.Load(), d, closedEarly.Load(), res.String())
}

// slowClient behaves as kind until its deadline or the guest ends the connection.
func slowClient(c net.Conn, kind string, port uint16) error {
	big := []byte("GET /download?bytes=1073741824 HTTP/1.1\r\nHost: guest\r\n\r\n")
	if port != 80 {
		big = make([]byte, 1<<20)
	}
	switch kind {
	case "idle":
		_, err := c.Read(make([]byte, 1))
		return err
	case "trickle":
		msg := []byte("GET / HTTP/1.1\r\nHost: guest\r\nX-Slow: ")
		if port != 80 {
			msg = []byte("slow")
		}
		if _, err := c.Write(msg); err != nil {
			return err
		}
		go func() { _, _ = io.Copy(io.Discard, c) }()
		for {
			time.Sleep(time.Second)
			if _, err := c.Write([]byte("a")); err != nil {
				return err
			}
		}
	case "deaf":
		_, err := c.Write(big)
		if err != nil {
			return err
		}
		// Blocks once the guest's send window and our receive buffer are full.
		_, err = c.Read(make([]byte, 1))
		for err == nil {
			time.Sleep(time.Second) // never read further
			_, err = c.Write([]byte{0})
		}
		return err
	default: // slow reader
		go func() { _, _ = c.Write(big) }()
		buf := make([]byte, 256)
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return err
			}
			time.Sleep(time.Second)
		}
	}
}

// udpFlood sends up to n datagrams to each target within d, over IPv4 and IPv6, to its UDP
// ports and to closed ones, of sizes from 0 bytes to 65000 (which dom0 sends in fragments),
// from 12 sockets, without reading the echoes.
func udpFlood(ts []*target, n int, d time.Duration) string {
	sizes := []int{0, 1, 8, 64, 64, 128, 256, 512, 512, 1024, 1472, 1472, 1472, 2000, 3000, 1472, 512, 64, 9000, 65000}
	closed := []uint16{9, 19, 53, 123, 5353, 33434}
	end := time.Now().Add(d)
	var res tally
	var sent, bytes atomic.Int64
	var wg sync.WaitGroup
	for _, t := range ts {
		for s := range 12 {
			ip := t.ip4
			if s%3 == 2 {
				ip = t.ip6
			}
			port := closed[s%len(closed)]
			if s%2 == 0 && len(t.udp) > 0 {
				port = t.udp[0]
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, port)))
				if err != nil {
					res.add("dial-" + errKind(err))
					return
				}
				defer c.Close()
				_ = c.SetWriteBuffer(1 << 20)
				buf := make([]byte, 65000)
				for i := range n / 12 {
					if time.Now().After(end) {
						res.add("stopped-at-deadline")
						return
					}
					_ = c.SetWriteDeadline(end)
					k, err := c.Write(buf[:sizes[(i+s)%len(sizes)]])
					if err != nil {
						// ICMP port unreachable answers make the next write on a connected
						// socket fail with ECONNREFUSED: the guest answered, carry on.
						res.add("write-" + errKind(err))
						continue
					}
					sent.Add(1)
					bytes.Add(int64(k))
				}
			}()
		}
	}
	wg.Wait()
	return fmt.Sprintf("%d datagrams (%d bytes) sent: %s", sent.Load(), bytes.Load(), res.String())
}
