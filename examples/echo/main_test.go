//go:build !tamago

package main

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/internal/pattern"
	"github.com/tamaxen/tamaxen/unikernel"
)

// TestHostedEcho runs the example's servers hosted: TCP through the forwarded host port, UDP
// from the host side of the vif.
func TestHostedEcho(t *testing.T) {
	unikernel.Hosted = &unikernel.HostedFlags{
		Cmdline: "ip=10.0.0.3/24 gw=10.0.0.1",
		Forward: []unikernel.Forward{{Host: "127.0.0.1:0", Guest: 7}},
		Queues:  2,
	}
	t.Cleanup(func() { unikernel.Hosted = nil })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	u, err := unikernel.Start(ctx, unikernel.Options{Name: "echo"})
	require.NoError(t, err)
	l, err := u.Listen("tcp", ":7")
	require.NoError(t, err)
	pc, err := u.ListenPacket("udp", ":7")
	require.NoError(t, err)
	go serveTCP(u, l)
	go serveUDP(u, pc)

	c, err := net.Dial("tcp", u.Forwarded()[0].String())
	require.NoError(t, err)
	msg := make([]byte, 1<<20)
	_, _ = io.ReadFull(pattern.NewReader(int64(len(msg))), msg)
	go func() { _, _ = c.Write(msg) }()
	got := make([]byte, len(msg))
	require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	assert.Equal(t, msg, got)
	_ = c.Close()

	uc, err := u.HostSide().Dial(ctx, "udp", netip.MustParseAddrPort("10.0.0.3:7"))
	require.NoError(t, err)
	for _, n := range []int{1, 1472, 9000} {
		_, err := uc.Write(msg[:n])
		require.NoError(t, err)
		require.NoError(t, uc.SetReadDeadline(time.Now().Add(10*time.Second)))
		k, err := uc.Read(got)
		require.NoError(t, err, "udp %d", n)
		assert.Equal(t, msg[:n], got[:k])
	}
	_ = uc.Close()
	_ = l.Close()
	_ = pc.Close()
	require.NoError(t, u.Close())
}
