// Echo server: what the echo checks expect of a guest, for testing them without one.

//go:build linux

package main

import (
	"io"
	"net"
)

// serveEcho answers TCP and UDP echo on addr until one of them fails.
func serveEcho(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	defer pc.Close()
	errs := make(chan error, 2)
	go func() { errs <- echoTCP(ln) }()
	go func() { errs <- echoUDP(pc) }()
	return <-errs
}

// echoTCP copies every connection's bytes back to it until the peer closes.
func echoTCP(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
		}()
	}
}

// echoUDP sends every datagram back to its sender.
func echoUDP(pc net.PacketConn) error {
	buf := make([]byte, 65536)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		if _, err := pc.WriteTo(buf[:n], from); err != nil {
			return err
		}
	}
}
