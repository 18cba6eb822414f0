// The checksum cases with a positive oracle: each sends a datagram (or SYN) with a wrong
// checksum and the same with a right one, and passes only if the right one is answered and the
// wrong one is not, so that a dead guest or a closed port can never pass for a dropped packet.

package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// csumCase is one way of carrying a segment: IPv4 or IPv6, whole or in fragments, behind
// extension headers.
type csumCase struct {
	name string
	v6   bool
	tcp  bool
	zero bool // the bad variant carries checksum 0 (UDP over IPv6 must not, RFC 8200 8.1)
	// wrap carries seg (UDP or TCP, already with its checksum) from src to dst as IP packets.
	wrap func(r *rand.Rand, src, dst netip.Addr, proto uint8, seg []byte) [][]byte
}

func whole4(r *rand.Rand, src, dst netip.Addr, proto uint8, seg []byte) [][]byte {
	return [][]byte{ip4{src: src, dst: dst, proto: proto, id: uint16(r.Uint32())}.packet(seg)}
}

// frag4 cuts seg after its first 24 bytes: the UDP header and 16 bytes of payload, or a SYN's
// fixed header and its first option.
func frag4(r *rand.Rand, src, dst netip.Addr, proto uint8, seg []byte) [][]byte {
	return fragments4(ip4{src: src, dst: dst, proto: proto, id: uint16(r.Uint32())}, seg, 24)
}

func frag4Reversed(r *rand.Rand, src, dst netip.Addr, proto uint8, seg []byte) [][]byte {
	f := frag4(r, src, dst, proto, seg)
	for i, j := 0, len(f)-1; i < j; i, j = i+1, j-1 {
		f[i], f[j] = f[j], f[i]
	}
	return f
}

func whole6(exts ...ext6) func(*rand.Rand, netip.Addr, netip.Addr, uint8, []byte) [][]byte {
	return func(r *rand.Rand, src, dst netip.Addr, proto uint8, seg []byte) [][]byte {
		first, b := chain6(proto, seg, exts...)
		return [][]byte{ip6{src: src, dst: dst, next: first}.packet(b)}
	}
}

// frag6 cuts seg after 24 bytes, behind the unfragmentable headers unfrag; with inner, a
// destination options header goes first in the fragmentable part (and in the first fragment).
func frag6Case(inner bool, unfrag ...ext6) func(*rand.Rand, netip.Addr, netip.Addr, uint8, []byte) [][]byte {
	return func(r *rand.Rand, src, dst netip.Addr, proto uint8, seg []byte) [][]byte {
		next, part, first := proto, seg, 24
		if inner {
			next, part = chain6(proto, seg, opts6(protoDstOpts, nil))
			first += 8
		}
		return fragments6(ip6{src: src, dst: dst}, unfrag, next, part, r.Uint32(), first)
	}
}

var csumCases = []csumCase{
	{name: "udp4", wrap: whole4},
	{name: "udp4-frag", wrap: frag4},
	{name: "udp4-frag-reversed", wrap: frag4Reversed},
	{name: "udp6", v6: true, wrap: whole6()},
	{name: "udp6-zero-checksum", v6: true, zero: true, wrap: whole6()},
	{name: "udp6-frag", v6: true, wrap: frag6Case(false)},
	{name: "udp6-dstopts", v6: true, wrap: whole6(opts6(protoDstOpts, nil))},
	{name: "udp6-hbh-dstopts", v6: true, wrap: whole6(opts6(protoHopByHop, nil), opts6(protoDstOpts, nil))},
	{name: "udp6-frag-dstopts", v6: true, wrap: frag6Case(true)},
	{name: "udp6-dstopts-frag", v6: true, wrap: frag6Case(false, opts6(protoDstOpts, nil))},
	{name: "syn4", tcp: true, wrap: whole4},
	{name: "syn4-frag", tcp: true, wrap: frag4},
	{name: "syn6", tcp: true, v6: true, wrap: whole6()},
	{name: "syn6-frag", tcp: true, v6: true, wrap: frag6Case(false)},
	{name: "syn6-dstopts", tcp: true, v6: true, wrap: whole6(opts6(protoDstOpts, nil))},
	{name: "syn6-frag-dstopts", tcp: true, v6: true, wrap: frag6Case(true)},
}

// probe is one datagram or SYN of a case, good or bad, and what came back for it.
type probe struct {
	c       csumCase
	bad     bool
	src     netip.Addr
	sport   uint16
	payload []byte
	conn    *net.UDPConn // UDP: dom0's socket the echo comes back to
	frames  [][]byte     // as last sent
	sentAt  time.Time

	mu       sync.Mutex
	answered time.Duration // after the first send; 0 while nothing came
	answer   string        // what came: "echo", "SYN-ACK", "RST", ...
}

func (p *probe) got(what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.answered == 0 {
		p.answered = max(time.Since(p.sentAt), time.Nanosecond)
		p.answer = what
	}
}

func (p *probe) result() (time.Duration, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.answered, p.answer
}

// build makes the probe's frames: a new IP id each time, so a resend is a new datagram.
func (p *probe) build(r *rand.Rand, s self, t *target) {
	dst := t.ip4
	if p.c.v6 {
		dst = t.ip6
	}
	var seg []byte
	var proto uint8
	if p.c.tcp {
		proto = protoTCP
		seg = tcpSeg{sport: p.sport, dport: t.tcpPort(r), seq: r.Uint32(), flags: tcpSYN, options: synOptions(r.Uint32())}.bytes(p.src, dst)
		if p.bad {
			spoil(seg, tcpCsumOff)
		}
	} else {
		proto = protoUDP
		seg = udp(p.src, dst, p.sport, t.udpPort(r), p.payload)
		if p.bad && p.c.zero {
			seg[udpCsumOff], seg[udpCsumOff+1] = 0, 0
		} else if p.bad {
			spoil(seg, udpCsumOff)
		}
	}
	p.frames = p.frames[:0]
	et := uint16(etherIPv4)
	if p.c.v6 {
		et = etherIPv6
	}
	for _, pkt := range p.c.wrap(r, p.src, dst, proto, seg) {
		p.frames = append(p.frames, ether(t.mac, s.mac, et, pkt))
	}
}

// runOracle sends every case to t, bad before good, resends the unanswered ones, and prints a
// line per case: "ok NAME: ..." or "FAIL NAME: ...". It returns the number of failed cases.
func runOracle(r *rand.Rand, s self, t *target, only string, timeout, grace time.Duration) (int, error) {
	capt, err := openCapture(t.vif)
	if err != nil {
		return 0, err
	}
	defer capt.Close()
	token := fmt.Sprintf("%08x", r.Uint32())
	var probes []*probe
	closeAll := func() {
		for _, p := range probes {
			if p.conn != nil {
				p.conn.Close()
			}
		}
	}
	defer closeAll()
	for _, c := range csumCases {
		if only != "" && !strings.Contains(","+only+",", ","+c.name+",") {
			continue
		}
		for _, bad := range []bool{true, false} {
			p := &probe{c: c, bad: bad, src: s.ip4}
			if c.v6 {
				p.src = s.ip6
			}
			word := "good"
			if bad {
				word = "bad"
			}
			p.payload = []byte(fmt.Sprintf("xenhostile %s %s %s", token, c.name, word))
			p.payload = append(p.payload, make([]byte, 48-len(p.payload)%48)...)
			if c.tcp {
				p.sport = uint16(50000 + r.IntN(10000))
			} else {
				conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.src, 0)))
				if err != nil {
					return 0, err
				}
				p.conn = conn
				p.sport = uint16(conn.LocalAddr().(*net.UDPAddr).Port)
			}
			probes = append(probes, p)
		}
	}
	if len(probes) == 0 {
		return 0, fmt.Errorf("no case matches %q", only)
	}
	l, err := openLink(t.vif)
	if err != nil {
		return 0, err
	}
	defer l.Close()

	// Listen: echoes on the UDP sockets, TCP answers in the capture.
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range probes {
		if p.conn == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 2048)
			for {
				n, err := p.conn.Read(buf)
				if err != nil {
					return
				}
				if string(buf[:n]) == string(p.payload) {
					p.got("echo")
				} else {
					p.got(fmt.Sprintf("a %d-byte datagram that is not the echo", n))
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 65536)
		for {
			select {
			case <-done:
				return
			default:
			}
			f, err := capt.next(buf)
			if err != nil || f == nil {
				continue
			}
			src, dst, proto, l4, ok := parseL4(f)
			if !ok || proto != protoTCP || len(l4) < 20 {
				continue
			}
			dport := be.Uint16(l4[2:])
			for _, p := range probes {
				if p.c.tcp && p.src == dst && p.sport == dport && (src == t.ip4 || src == t.ip6) {
					p.got(tcpAnswer(l4[13]))
				}
			}
		}
	}()

	send := func(p *probe) error {
		p.build(r, s, t)
		for _, f := range p.frames {
			if err := l.send(f); err != nil {
				return err
			}
		}
		return nil
	}
	start := time.Now()
	for _, bad := range []bool{true, false} {
		for _, p := range probes {
			if p.bad == bad {
				p.sentAt = time.Now()
				if err := send(p); err != nil {
					return 0, err
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Wait for every good probe, resending the unanswered pairs every 2 s (the guest may
	// still have been resolving dom0's address), then for the grace period after the last
	// good answer, so that a bad probe had as long as its good twin needed and more.
	resendAt := start.Add(2 * time.Second)
	var lastGood time.Time
	for {
		pending := 0
		for _, p := range probes {
			if d, _ := p.result(); !p.bad && d == 0 {
				pending++
			}
		}
		now := time.Now()
		if pending == 0 && lastGood.IsZero() {
			lastGood = now
		}
		if (!lastGood.IsZero() && now.Sub(lastGood) >= grace) || now.Sub(start) >= timeout+grace {
			break
		}
		if pending > 0 && now.After(resendAt) && now.Sub(start) < timeout {
			for i := 0; i+1 < len(probes); i += 2 {
				if d, _ := probes[i+1].result(); d == 0 {
					_ = send(probes[i])
					_ = send(probes[i+1])
				}
			}
			resendAt = now.Add(2 * time.Second)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(done)
	closeAll()
	wg.Wait()

	failed := 0
	for i := 0; i+1 < len(probes); i += 2 {
		bad, good := probes[i], probes[i+1]
		bd, bwhat := bad.result()
		gd, gwhat := good.result()
		what := "datagram"
		want := "echo"
		if good.c.tcp {
			what, want = "SYN", "SYN-ACK"
		}
		desc := fmt.Sprintf("%d frame(s)", len(good.frames))
		switch {
		case bd != 0:
			failed++
			fmt.Printf("FAIL %s: the bad-checksum %s was answered (%s after %v; %s); good one: %s\n",
				bad.c.name, what, bwhat, bd.Round(time.Millisecond), desc, describe(gd, gwhat))
		case gd == 0:
			failed++
			fmt.Printf("FAIL %s: the right-checksum %s got no %s within %v either, so the silent bad one proves nothing (%s)\n",
				good.c.name, what, want, timeout, desc)
		case gwhat != want:
			failed++
			fmt.Printf("FAIL %s: the right-checksum %s was answered with %s, not %s; the bad one got nothing (%s)\n",
				good.c.name, what, gwhat, want, desc)
		default:
			fmt.Printf("ok %s: right checksum answered (%s in %v), wrong checksum unanswered for %v (%s)\n",
				good.c.name, gwhat, gd.Round(time.Millisecond), time.Since(bad.sentAt).Round(100*time.Millisecond), desc)
		}
	}
	return failed, nil
}

func describe(d time.Duration, what string) string {
	if d == 0 {
		return "no answer"
	}
	return fmt.Sprintf("%s after %v", what, d.Round(time.Millisecond))
}

// tcpAnswer names a TCP segment by its flags.
func tcpAnswer(flags uint8) string {
	switch {
	case flags&(tcpSYN|tcpACK) == tcpSYN|tcpACK:
		return "SYN-ACK"
	case flags&tcpRST != 0:
		return "RST"
	}
	return fmt.Sprintf("a segment with flags %#02x", flags)
}

// parseL4 finds the transport header of an Ethernet frame carrying IPv4 or IPv6 (skipping
// IPv6 extension headers); fragments other than the first are not parsed.
func parseL4(f []byte) (src, dst netip.Addr, proto uint8, l4 []byte, ok bool) {
	if len(f) < 14 {
		return
	}
	p := f[14:]
	switch be.Uint16(f[12:]) {
	case etherIPv4:
		if len(p) < 20 || p[0]>>4 != 4 {
			return
		}
		ihl := int(p[0]&0x0f) * 4
		total := int(be.Uint16(p[2:]))
		if ihl < 20 || total < ihl || total > len(p) || be.Uint16(p[6:])&0x1fff != 0 {
			return
		}
		src = netip.AddrFrom4([4]byte(p[12:16]))
		dst = netip.AddrFrom4([4]byte(p[16:20]))
		return src, dst, p[9], p[ihl:total], true
	case etherIPv6:
		if len(p) < 40 || p[0]>>4 != 6 {
			return
		}
		end := 40 + int(be.Uint16(p[4:]))
		if end > len(p) {
			return
		}
		src = netip.AddrFrom16([16]byte(p[8:24]))
		dst = netip.AddrFrom16([16]byte(p[24:40]))
		next, off := p[6], 40
		for {
			switch next {
			case protoHopByHop, protoDstOpts, protoRouting:
				if off+8 > end {
					return
				}
				next, off = p[off], off+8*(int(p[off+1])+1)
			case protoFragment:
				if off+8 > end || be.Uint16(p[off+2:])&0xfff8 != 0 {
					return
				}
				next, off = p[off], off+8
			default:
				if off > end {
					return
				}
				return src, dst, next, p[off:end], true
			}
		}
	}
	return
}
