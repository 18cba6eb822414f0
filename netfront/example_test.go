package netfront_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/tamaxen/tamaxen/netfront"
	"github.com/tamaxen/tamaxen/xen/sim/machine"
	"github.com/tamaxen/tamaxen/xen/sim/netback"
)

// Open connects to the vif's backend; then Send puts frames on the wire and Config.Receive
// gets those the backend hands over. Here the host is the simulated Xen, with Linux's
// netback modelled in dom0; on Xen, board/xenpvh gives the Platform (see package unikernel).
func ExampleOpen() {
	m, err := machine.New(machine.Config{MAC: "00:16:3e:00:00:02"})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	// The backend's side of the wire: what the guest sends, as dom0's bridge would get it.
	sent := make(chan []byte, 1)
	m.Backend.SetDeliver(func(f netback.Frame) { sent <- bytes.Clone(f.Data) })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	received := make(chan []byte, 1)
	dev, err := netfront.Open(ctx, m.Platform, netfront.Config{
		// Called from the device's RX goroutine; the frame is valid only during the call.
		Receive: func(frame []byte, _ netfront.RxMeta) { received <- bytes.Clone(frame) },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Close()
	f := dev.Features()
	fmt.Printf("%s: MAC %s, MTU %d\n", dev.Path(), dev.MAC(), dev.MTU())
	fmt.Printf("negotiated: rx-copy %v, scatter-gather %v, TSO %v/%v, checksum offload %v\n",
		f.RxCopy, f.SG, f.GSOTCPv4, f.GSOTCPv6, f.CsumOffload)

	// An Ethernet frame out, with an experimental EtherType and a line of text.
	peer := net.HardwareAddr{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff}
	out := ethFrame(peer, dev.MAC(), "hello, backend")
	if err := dev.Send(ctx, out, netfront.TxMeta{}); err != nil {
		log.Fatal(err)
	}
	got := <-sent
	fmt.Printf("backend got %d bytes from %s: %s\n", len(got), net.HardwareAddr(got[6:12]), ethText(got))

	// And one in.
	if err := m.Backend.Inject(netback.Frame{Data: ethFrame(dev.MAC(), peer, "hello, guest")}); err != nil {
		log.Fatal(err)
	}
	in := <-received
	fmt.Printf("guest got %d bytes from %s: %s\n", len(in), net.HardwareAddr(in[6:12]), ethText(in))
	// Output:
	// device/vif/0: MAC 00:16:3e:00:00:02, MTU 1500
	// negotiated: rx-copy true, scatter-gather true, TSO true/true, checksum offload true
	// backend got 60 bytes from 00:16:3e:00:00:02: hello, backend
	// guest got 60 bytes from fe:ff:ff:ff:ff:ff: hello, guest
}

// ethFrame makes a minimum-size Ethernet frame from src to dst carrying text.
func ethFrame(dst, src net.HardwareAddr, text string) []byte {
	f := make([]byte, 60)
	copy(f, dst)
	copy(f[6:], src)
	f[12], f[13] = 0x88, 0xb5 // IEEE 802 local experimental EtherType 1
	copy(f[14:], text)
	return f
}

// ethText is the text a frame of ethFrame carries.
func ethText(f []byte) string { return string(bytes.TrimRight(f[14:], "\x00")) }
