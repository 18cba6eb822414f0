// TCP echo check: parallel connections, each a sequence of messages read back byte for byte.

//go:build linux

package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/tamaxen/tamaxen/internal/pattern"
)

// tcpSummary describes a passed TCP echo check.
type tcpSummary struct {
	Conns, Count, Size int
	Elapsed            time.Duration
}

func (s tcpSummary) String() string {
	total := float64(s.Conns) * float64(s.Count) * float64(s.Size)
	return fmt.Sprintf("tcp: %d conns x %d messages of %d bytes echoed byte-exact in %v (%.2f MB/s each way)",
		s.Conns, s.Count, s.Size, s.Elapsed.Round(time.Millisecond), total/s.Elapsed.Seconds()/1e6)
}

// tcpEcho opens conns connections to an echo server at once; each writes count messages of
// size bytes, one at a time, and reads every one back before the next. Each round trip must
// finish within timeout. Messages are consecutive stretches of the pattern stream, each
// starting with its connection and message number (when size allows), so data that is lost,
// reordered, duplicated or crosses connections does not compare equal.
func tcpEcho(addr string, count, size, conns int, timeout time.Duration) (tcpSummary, error) {
	sum := tcpSummary{Conns: conns, Count: count, Size: size}
	if addr == "" || count < 1 || size < 1 || conns < 1 || timeout <= 0 {
		return sum, errors.New("tcp needs -addr and positive -count, -size, -conns and -timeout")
	}
	start := time.Now()
	errs := make(chan error, conns)
	for c := range conns {
		go func() { errs <- tcpConn(addr, c, count, size, timeout) }()
	}
	var first error
	failed := 0
	for range conns {
		if err := <-errs; err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	if first != nil {
		return sum, fmt.Errorf("%d of %d connections failed, first: %w", failed, conns, first)
	}
	sum.Elapsed = time.Since(start)
	return sum, nil
}

// tcpConn runs one connection of tcpEcho.
func tcpConn(addr string, c, count, size int, timeout time.Duration) error {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return fmt.Errorf("conn %d: %w", c, err)
	}
	defer conn.Close()
	stream := pattern.NewReader(int64(count) * int64(size))
	msg := make([]byte, size)
	got := make([]byte, size)
	for i := range count {
		if _, err := io.ReadFull(stream, msg); err != nil {
			return err
		}
		if size >= 8 {
			binary.BigEndian.PutUint32(msg[0:], uint32(c))
			binary.BigEndian.PutUint32(msg[4:], uint32(i))
		}
		if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
			return err
		}
		// Write while reading: a message larger than the socket buffers would otherwise
		// deadlock against an echo server that is blocked writing it back.
		werr := make(chan error, 1)
		go func() {
			_, err := conn.Write(msg)
			werr <- err
		}()
		n, rerr := io.ReadFull(conn, got)
		if err := <-werr; err != nil {
			return fmt.Errorf("conn %d message %d: write: %w", c, i, err)
		}
		if rerr != nil {
			return fmt.Errorf("conn %d message %d: %d of %d bytes back: %w", c, i, n, size, rerr)
		}
		if !bytes.Equal(got, msg) {
			at := 0
			for got[at] == msg[at] {
				at++
			}
			return fmt.Errorf("conn %d message %d came back altered: byte %d is %#02x, want %#02x",
				c, i, at, got[at], msg[at])
		}
	}
	return nil
}
