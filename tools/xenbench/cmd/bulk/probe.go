// The boot prober: ICMP echo every few milliseconds from just before a command (xl create)
// starts, then, once the guest answers, a TCP connection and HTTP GET as often, until the guest
// answers both.

package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// probeTimes are milliseconds since the prober started; -1 while not seen.
type probeTimes struct {
	create, ping, tcp, http atomic.Int64
}

func probe(args []string) error {
	fs := flag.NewFlagSet("probe", flag.ExitOnError)
	ip := fs.String("ip", "", "guest IPv4 address")
	port := fs.Int("port", 80, "guest HTTP port")
	every := fs.Duration("every", 10*time.Millisecond, "interval between probes of each kind")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	_ = fs.Parse(args)
	dst := net.ParseIP(*ip).To4()
	if dst == nil {
		return fmt.Errorf("-ip %q is not an IPv4 address", *ip)
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("want the command to start after the flags (-- xl create ...)")
	}
	conn, err := net.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return fmt.Errorf("raw ICMP socket (needs root): %w", err)
	}
	defer conn.Close()

	var t probeTimes
	for _, v := range []*atomic.Int64{&t.create, &t.ping, &t.tcp, &t.http} {
		v.Store(-1)
	}
	start := time.Now()
	ms := func() int64 { return time.Since(start).Milliseconds() }
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, fs.Arg(0), fs.Args()[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	rc := make(chan int, 1)
	go func() {
		err := cmd.Wait()
		t.create.Store(ms())
		rc <- cmd.ProcessState.ExitCode()
		_ = err
	}()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		readEchoReplies(ctx, conn, dst, &t.ping, ms)
	}()
	addr := net.JoinHostPort(dst.String(), strconv.Itoa(*port))
	tick := time.NewTicker(*every)
	defer tick.Stop()
	var seq uint16
	var inflight atomic.Int32
	code := -1
	for first := true; ; first = false {
		if !first {
			select {
			case code = <-rc:
				if code != 0 {
					cancel()
				}
			case <-ctx.Done():
			case <-tick.C:
			}
		}
		if ctx.Err() != nil || (t.ping.Load() >= 0 && t.http.Load() >= 0 && code >= 0) {
			break
		}
		if t.ping.Load() < 0 {
			seq++
			_, _ = conn.WriteTo(echoRequest(uint16(os.Getpid()), seq), &net.IPAddr{IP: dst})
		}
		// Once the guest answers ping, a new connection attempt every tick: one sent before
		// the guest listens may wait for its SYN's retransmission a second later. Not before:
		// dom0 has one vCPU, and a connection attempt every 10 ms while xl create runs (SYNs
		// and their retransmissions) slowed xl create from 1.1 s to 1.8-2.3 s.
		if t.http.Load() < 0 && t.ping.Load() >= 0 && inflight.Load() < 200 {
			inflight.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer inflight.Add(-1)
				httpOnce(ctx, addr, &t, ms)
			}()
		}
	}
	cancel()
	_ = conn.Close()
	wg.Wait()
	if code < 0 {
		select {
		case code = <-rc:
		case <-time.After(5 * time.Second):
		}
	}
	fmt.Printf("probe create_rc=%d create_ms=%d ping_ms=%d tcp_ms=%d http_ms=%d every_ms=%d\n",
		code, t.create.Load(), t.ping.Load(), t.tcp.Load(), t.http.Load(), every.Milliseconds())
	if code != 0 || t.ping.Load() < 0 || t.http.Load() < 0 {
		return fmt.Errorf("no answer within %v", *timeout)
	}
	return nil
}

// echoRequest is an ICMP echo request with id and seq.
func echoRequest(id, seq uint16) []byte {
	b := make([]byte, 16)
	b[0] = 8 // echo request
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[8:], "tamaxen!")
	binary.BigEndian.PutUint16(b[2:], icmpChecksum(b))
	return b
}

func icmpChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// readEchoReplies records in first the time of the first echo reply from dst.
func readEchoReplies(ctx context.Context, conn net.PacketConn, dst net.IP, first *atomic.Int64, ms func() int64) {
	buf := make([]byte, 1500)
	for ctx.Err() == nil {
		_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			continue
		}
		a, ok := from.(*net.IPAddr)
		// The IPv4 header is stripped: type 0 is an echo reply.
		if ok && a.IP.Equal(dst) && n >= 8 && buf[0] == 0 &&
			binary.BigEndian.Uint16(buf[4:]) == uint16(os.Getpid()) {
			first.CompareAndSwap(-1, ms())
			return
		}
	}
}

// httpOnce connects to addr, records the first connection in t.tcp, sends GET / and records
// the first answer's status line in t.http.
func httpOnce(ctx context.Context, addr string, t *probeTimes, ms func() int64) {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return
	}
	defer c.Close()
	t.tcp.CompareAndSwap(-1, ms())
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte("GET / HTTP/1.0\r\nHost: guest\r\n\r\n")); err != nil {
		return
	}
	var b [12]byte
	n := 0
	for n < len(b) {
		k, err := c.Read(b[n:])
		n += k
		if err != nil {
			break
		}
	}
	if bytes.HasPrefix(b[:n], []byte("HTTP/1.")) && n == len(b) {
		t.http.CompareAndSwap(-1, ms())
	}
}
