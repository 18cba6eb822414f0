package dhcp

import (
	"context"
	"encoding/binary"
	"reflect"
	"testing"
	"time"
)

// seedFrames are well-formed frames of every kind the package handles.
func seedFrames() [][]byte {
	ack := offer(1)
	ack.typ = msgAck
	nak := message{xid: 1, chaddr: clientMAC, typ: msgNak, serverID: serverIP}
	renew := request(clientMAC, 2, ip("10.0.0.2"), serverIP)
	renew.ciaddr = ip("10.0.0.2")
	return [][]byte{
		requestFrame(discover(clientMAC, 1)),
		requestFrame(request(clientMAC, 1, ip("10.0.0.2"), serverIP)),
		requestFrame(renew),
		replyFrame(offer(1)),
		replyFrame(ack),
		replyFrame(nak),
		replyFrame(fullMessage()),
	}
}

// payloadOffset returns where the DHCP message starts in frame, or -1 if the headers do not
// say.
func payloadOffset(frame []byte) int {
	if len(frame) < ethHeaderLen+ipv4HeaderLen {
		return -1
	}
	ihl := int(frame[ethHeaderLen]&0x0f) * 4
	if ihl < ipv4HeaderLen {
		return -1
	}
	return ethHeaderLen + ihl + udpHeaderLen
}

// patch returns a copy of frame addressed to transaction xid of clientMAC, with correct
// checksums, so that fuzzed bytes get past the client's first checks.
func patch(frame []byte, xid uint32) []byte {
	f := append([]byte(nil), frame...)
	if off := payloadOffset(f); off >= 0 && len(f) >= off+offChaddr+6 {
		binary.BigEndian.PutUint32(f[off+offXid:], xid)
		copy(f[off+offChaddr:], clientMAC[:])
	}
	fixChecksums(f)
	return f
}

// FuzzParseMessage feeds arbitrary bytes to the parsers, as a DHCP message and as a frame.
// Whatever parses must encode and parse back to the same message.
func FuzzParseMessage(f *testing.F) {
	for _, fr := range seedFrames() {
		f.Add(fr)
		if off := payloadOffset(fr); off >= 0 {
			f.Add(fr[off:])
		}
	}
	over := opts([]byte{optMessageType, 1, 5, optOverload, 1, 3, optDNS, 2, 1, 2}, func(b []byte) {
		copy(b[offFile:], []byte{optDNS, 2, 3, 4, 255})
		copy(b[offSname:], []byte{optHostname, 1, 'x'})
	})
	f.Add(over)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkMessage(t, data)
		for _, frame := range [][]byte{data, patch(data, 1)} {
			p, err := parsePacket(frame)
			if err != nil {
				continue
			}
			if len(p.payload) > len(frame) {
				t.Fatalf("payload of %d bytes from a %d-byte frame", len(p.payload), len(frame))
			}
			checkMessage(t, p.payload)
		}
	})
}

func checkMessage(t *testing.T, b []byte) {
	m, err := parseMessage(b)
	if err != nil {
		return
	}
	again, err := parseMessage(appendMessage(nil, &m))
	if err != nil {
		t.Fatalf("re-encoded message does not parse: %v\n%+v", err, m)
	}
	if !reflect.DeepEqual(m, again) {
		t.Fatalf("round trip:\n%+v\n%+v", m, again)
	}
	if l, err := leaseFrom(&m); err == nil && (!usable(l.Addr.Addr()) || !l.Server.IsValid()) {
		t.Fatalf("bad lease %v from %+v", l, m)
	}
}

// FuzzClientInput gives arbitrary frames to a client in the middle of Acquire, both as they
// are and patched to its transaction. It must not panic; and when the frame is an OFFER the
// client can take, the client must REQUEST it and accept the matching ACK.
func FuzzClientInput(f *testing.F) {
	for _, fr := range seedFrames() {
		f.Add(fr)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sent := make(chan []byte, 16)
		c := &Client{MAC: clientMAC[:], Send: func(ctx context.Context, frame []byte) error {
			select {
			case sent <- frame:
			default:
			}
			return nil
		}}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		type result struct {
			l   Lease
			err error
		}
		done := make(chan result, 1)
		go func() {
			l, err := c.Acquire(ctx)
			done <- result{l, err}
		}()
		_, first := decode(t, <-sent)

		c.Input(data)
		patched := patch(data, first.xid)
		c.Input(patched)

		// Does the patched frame hold an OFFER the client takes?
		p, err := parsePacket(patched)
		if err == nil && p.srcPort == serverPort && p.dstPort == clientPort &&
			(p.dstMAC == clientMAC || p.dstMAC == broadcastMAC) {
			if m, err := parseMessage(p.payload); err == nil && m.op == bootReply && m.typ == msgOffer {
				if want, err := leaseFrom(&m); err == nil {
					expectRequest(t, sent, want)
					m.typ = msgAck
					c.Input(replyFrame(m))
					select {
					case r := <-done:
						if r.err != nil || !reflect.DeepEqual(r.l, want) {
							t.Fatalf("Acquire = %v, %v; want %v", r.l, r.err, want)
						}
						return
					case <-time.After(10 * time.Second):
						t.Fatal("ACK not taken")
					}
				}
			}
		}
		cancel()
		if r := <-done; r.err == nil {
			t.Fatalf("lease %v from one frame", r.l)
		}
	})
}

// expectRequest waits for the client's REQUEST of lease l, skipping retransmitted DISCOVERs.
func expectRequest(t *testing.T, sent chan []byte, l Lease) {
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f := <-sent:
			_, m := decode(t, f)
			if m.typ != msgRequest {
				continue
			}
			if m.requested != l.Addr.Addr() || m.serverID != l.Server {
				t.Fatalf("REQUEST of %v from %v for lease %v", m.requested, m.serverID, l)
			}
			return
		case <-timeout:
			t.Fatal("offer not taken")
		}
	}
}

// FuzzServerHandle gives arbitrary frames to a server, as they are and with their checksums
// fixed. It must not panic, and whatever it answers must be a well-formed reply to the
// request's client.
func FuzzServerHandle(f *testing.F) {
	for _, fr := range seedFrames() {
		f.Add(fr)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newServer()
		for _, frame := range [][]byte{data, patch(data, 1), patch(data, 1)} {
			reply, ok := s.Handle(frame)
			if !ok {
				if reply != nil {
					t.Fatal("reply without ok")
				}
				continue
			}
			_, req := decode(t, frame)
			p, m := decode(t, reply)
			switch {
			case p.srcPort != serverPort || p.dstPort != clientPort || p.srcIP != serverIP:
				t.Fatalf("reply header %+v", p)
			case m.op != bootReply || m.xid != req.xid || m.chaddr != req.chaddr || m.serverID != serverIP:
				t.Fatalf("reply %+v to %+v", m, req)
			case m.typ == msgNak:
				if p.dstMAC != broadcastMAC || req.typ != msgRequest {
					t.Fatalf("NAK %+v to %+v", p, req)
				}
			case m.typ == msgOffer || m.typ == msgAck:
				if !s.Addr.Contains(m.yiaddr) || m.yiaddr == serverIP {
					t.Fatalf("handed out %v", m.yiaddr)
				}
				if _, err := leaseFrom(&m); err != nil {
					t.Fatalf("client would refuse %+v: %v", m, err)
				}
			default:
				t.Fatalf("reply type %v", m.typ)
			}
		}
	})
}
