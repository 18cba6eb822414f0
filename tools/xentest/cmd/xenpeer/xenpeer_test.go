//go:build linux

package main

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/internal/pattern"
)

// serveTCP runs handle on every connection to a fresh loopback listener and returns its address.
func serveTCP(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

func TestTCPEchoPasses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() { _ = echoTCP(ln) }()

	for _, tc := range []struct{ count, size, conns int }{
		{100, 1000, 4},
		{1, 65536, 1},
		{3, 1 << 20, 2}, // larger than the socket buffers: needs the concurrent write
		{10, 1, 3},      // too small for the message header
	} {
		sum, err := tcpEcho(ln.Addr().String(), tc.count, tc.size, tc.conns, 10*time.Second)
		require.NoError(t, err, "%+v", tc)
		assert.Equal(t, tc.conns, sum.Conns)
		assert.Contains(t, sum.String(), "echoed byte-exact")
	}
}

func TestTCPEchoFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		handle func(net.Conn)
		want   string
	}{
		{"altered byte", func(c net.Conn) {
			buf := make([]byte, 4096)
			for total := 0; ; {
				n, err := c.Read(buf)
				for i := range n {
					if total+i == 1500 {
						buf[i] ^= 0x40
					}
				}
				total += n
				if _, werr := c.Write(buf[:n]); err != nil || werr != nil {
					return
				}
			}
		}, "message 1 came back altered: byte 500 is"},
		{"no answer", func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }, "i/o timeout"},
		{"closed early", func(c net.Conn) { _, _ = io.CopyN(c, c, 1000) }, "EOF"},
		{"crossed connections", func(c net.Conn) {
			// Answers with a message of the same length but another connection's number.
			buf := make([]byte, 1000)
			if _, err := io.ReadFull(c, buf); err == nil {
				buf[3] ^= 1
				_, _ = c.Write(buf)
			}
		}, "byte 3 is"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tcpEcho(serveTCP(t, tc.handle), 5, 1000, 2, 300*time.Millisecond)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := tcpEcho("127.0.0.1:1", 0, 1000, 1, time.Second)
	assert.Error(t, err, "zero count")
}

func TestUDPEcho(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer pc.Close()
	go func() { _ = echoUDP(pc) }()
	require.NoError(t, udpEcho(pc.LocalAddr().String(), 32, 1000, 4))
}

func TestPatternIsThePackageStream(t *testing.T) {
	for _, n := range []int64{0, 1, 7, 1 << 20, 1<<20 + 5} {
		var out bytes.Buffer
		require.NoError(t, writePattern(&out, n))
		want := sha256.New()
		_, err := io.Copy(want, pattern.NewReader(n))
		require.NoError(t, err)
		assert.Equal(t, n, int64(out.Len()))
		assert.Equal(t, want.Sum(nil), sha256Sum(out.Bytes()), "%d bytes", n)
	}
	assert.Error(t, writePattern(io.Discard, -1))
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
