// TCP and UDP echo against examples/echo: TCP checked byte for byte, UDP loss counted.

package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/tamaxen/tamaxen/internal/pattern"
)

// tcpEchoLoop keeps one echo connection busy until ctx ends: each message (a fresh stretch of
// the pattern stream, headed by the connection and message numbers) is written while it is read
// back, then compared. A failed connection is counted and replaced after a second.
func tcpEchoLoop(ctx context.Context, c config, r *result, id int) {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		err := tcpEchoConn(ctx, c, r, id)
		if ctx.Err() != nil {
			return
		}
		r.add(&r.echo, fmt.Sprintf("tcp echo conn %d.%d", id, attempt), 0, err, errors.Is(err, errCorrupt))
		pause(ctx, time.Second)
	}
}

// tcpEchoConn runs one connection; it returns when ctx ends or on the first failure.
func tcpEchoConn(ctx context.Context, c config, r *result, id int) error {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, c.xferTimout)
	conn, err := d.DialContext(dctx, "tcp", c.echoAddr)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() }) // unblocks a read at the end
	defer stop()
	stream := pattern.NewReader(1 << 62)
	msg := make([]byte, c.echoSize)
	got := make([]byte, c.echoSize)
	werr := make(chan error, 1)
	for i := 0; ; i++ {
		if _, err := io.ReadFull(stream, msg); err != nil {
			return err
		}
		if len(msg) >= 8 {
			binary.BigEndian.PutUint32(msg[0:], uint32(id))
			binary.BigEndian.PutUint32(msg[4:], uint32(i))
		}
		if err := conn.SetDeadline(time.Now().Add(c.xferTimout)); err != nil {
			return err
		}
		// Write while reading, or a message larger than the socket buffers deadlocks against
		// an echo server blocked writing it back.
		go func() {
			_, err := conn.Write(msg)
			werr <- err
		}()
		n, rerr := io.ReadFull(conn, got)
		if err := <-werr; err != nil {
			return fmt.Errorf("message %d: write: %w", i, err)
		}
		if rerr != nil {
			return fmt.Errorf("message %d: %d of %d bytes back: %w", i, n, len(got), rerr)
		}
		if !bytes.Equal(got, msg) {
			at := 0
			for got[at] == msg[at] {
				at++
			}
			return fmt.Errorf("%w: message %d came back altered at byte %d", errCorrupt, i, at)
		}
		r.add(&r.echo, "", int64(len(msg)), nil, false)
	}
}

// udpGrace is how long answers are still awaited after the last datagram is sent.
const udpGrace = 3 * time.Second

// udpSoak sends c.udpRate datagrams a second, round-robin over c.udpFlows sockets, until ctx
// ends, and counts the answers: received (each sequence number once), duplicated, altered.
func udpSoak(ctx context.Context, c config, r *result) {
	conns := make([]net.Conn, c.udpFlows)
	for i := range conns {
		conn, err := net.Dial("udp", c.echoAddr)
		if err != nil {
			r.mu.Lock()
			r.errs = append(r.errs, fmt.Sprintf("udp: %v", err))
			r.mu.Unlock()
			return
		}
		defer conn.Close()
		conns[i] = conn
	}
	var mu sync.Mutex
	seen := map[uint64]bool{} // sequence numbers answered; guarded by mu
	var wg sync.WaitGroup
	for _, conn := range conns {
		wg.Go(func() {
			buf := make([]byte, c.udpSize+1)
			want := make([]byte, c.udpSize)
			for {
				n, err := conn.Read(buf)
				if err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						return // the grace period is over
					}
					if errors.Is(err, net.ErrClosed) {
						return
					}
					continue // e.g. ICMP port unreachable while the guest is away
				}
				seq := binary.BigEndian.Uint64(buf)
				fillDatagram(want, seq)
				mu.Lock()
				r.mu.Lock()
				switch {
				case n != len(want) || !bytes.Equal(buf[:n], want):
					r.udpAltered++
				case seen[seq]:
					r.udpDup++
				default:
					seen[seq] = true
					r.udpRecv++
				}
				r.mu.Unlock()
				mu.Unlock()
			}
		})
	}
	t := time.NewTicker(time.Second / time.Duration(c.udpRate))
	defer t.Stop()
	dgram := make([]byte, c.udpSize)
	for seq := uint64(0); ; seq++ {
		select {
		case <-ctx.Done():
			for _, conn := range conns {
				_ = conn.SetReadDeadline(time.Now().Add(udpGrace))
			}
			wg.Wait()
			return
		case <-t.C:
		}
		fillDatagram(dgram, seq)
		r.mu.Lock()
		r.udpSent++
		r.mu.Unlock()
		// A failed write (e.g. a pending ICMP error while the guest was away) is a lost datagram.
		_, _ = conns[seq%uint64(len(conns))].Write(dgram)
	}
}

// fillDatagram writes datagram seq: the sequence number, its complement, then bytes derived
// from it, so a datagram altered anywhere or answered for another does not compare equal.
func fillDatagram(b []byte, seq uint64) {
	binary.BigEndian.PutUint64(b[0:], seq)
	binary.BigEndian.PutUint64(b[8:], ^seq)
	for i := 16; i < len(b); i++ {
		b[i] = byte(seq*131 + uint64(i)*7)
	}
}
