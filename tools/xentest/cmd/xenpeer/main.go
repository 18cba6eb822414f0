// Command xenpeer is dom0's side of the real-Xen checks: it maps a page a guest granted
// (through /dev/xen/gntdev) and checks its contents, ping-pongs notifications with a guest over
// an event channel the guest allocated (through /dev/xen/evtchn), checks a guest's UDP and TCP
// echo servers byte for byte, and writes the internal/pattern stream that the guests serve, so
// that a download can be checked with sha256sum.
//
//	xenpeer grant  -domid N -ref R -prefix TEXT
//	xenpeer evtchn -domid N -port P -seqref R -count 100
//	xenpeer udp    -addr 10.0.0.2:7 -count 20 -size 1000 -flows 8
//	xenpeer tcp    -addr 10.0.0.3:7 -count 100 -size 1000 -conns 4 [-timeout 10s]
//	xenpeer pattern -bytes N                      (N bytes of the stream on stdout)
//	xenpeer echo   -listen :7                     (TCP and UDP echo server, for a Linux domU)
//
// It is built with the stock Go toolchain for linux/amd64 and runs in the test dom0. Failed
// checks print why on stderr and exit with status 1.

//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/tamaxen/tamaxen/internal/pattern"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

// ioctl numbers: _IOC(_IOC_NONE, type, nr, size) = size<<16 | type<<8 | nr (xen/sys/*.h).
const (
	ioctlGntdevMapGrantRef   = 24<<16 | 'G'<<8 | 0
	ioctlGntdevUnmapGrantRef = 16<<16 | 'G'<<8 | 1
	ioctlEvtchnBindInterdom  = 8<<16 | 'E'<<8 | 1
	ioctlEvtchnNotify        = 4<<16 | 'E'<<8 | 4
	pageSize                 = 4096
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: xenpeer grant|evtchn|udp|tcp|pattern|echo [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	domid := fs.Uint("domid", 0, "guest domain id")
	ref := fs.Uint("ref", 0, "grant reference")
	prefix := fs.String("prefix", "", "expected start of the granted page")
	port := fs.Uint("port", 0, "guest's unbound event channel port")
	count := fs.Int("count", 100, "notifications to ping-pong")
	seqRef := fs.Uint("seqref", 0, "grant of the guest's writable sequence page")
	addr := fs.String("addr", "", "echo server address (udp, tcp)")
	size := fs.Int("size", 64, "UDP datagram or TCP message size")
	flows := fs.Int("flows", 1, "UDP sockets (source ports) to spread the datagrams over")
	conns := fs.Int("conns", 1, "parallel TCP connections, each carrying -count messages")
	timeout := fs.Duration("timeout", 10*time.Second, "TCP: deadline of each message's round trip")
	nbytes := fs.Int64("bytes", 0, "pattern: length of the stream")
	listen := fs.String("listen", ":7", "echo: TCP and UDP address to serve")
	_ = fs.Parse(os.Args[2:])

	var err error
	switch os.Args[1] {
	case "grant":
		err = grant(uint32(*domid), uint32(*ref), *prefix)
	case "evtchn":
		err = pingPong(uint32(*domid), uint32(*port), uint32(*seqRef), *count)
	case "udp":
		err = udpEcho(*addr, *count, *size, *flows)
	case "tcp":
		var sum tcpSummary
		if sum, err = tcpEcho(*addr, *count, *size, *conns, *timeout); err == nil {
			fmt.Println(sum)
		}
	case "pattern":
		err = writePattern(os.Stdout, *nbytes)
	case "echo":
		err = serveEcho(*listen)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "xenpeer:", err)
		os.Exit(1)
	}
}

func ioctl(fd int, req uintptr, arg unsafe.Pointer) (uintptr, error) {
	r, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
	if e != 0 {
		return 0, e
	}
	return r, nil
}

// mapGrant maps one grant of domid through gntdev and returns the page and its unmapper.
func mapGrant(domid, ref uint32, writable bool) ([]byte, func() error, error) {
	fd, err := syscall.Open("/dev/xen/gntdev", syscall.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	var m [24]byte // count, pad, index, refs[0]{domid, ref}
	binary.LittleEndian.PutUint32(m[0:], 1)
	binary.LittleEndian.PutUint32(m[16:], domid)
	binary.LittleEndian.PutUint32(m[20:], ref)
	if _, err := ioctl(fd, ioctlGntdevMapGrantRef, unsafe.Pointer(&m[0])); err != nil {
		syscall.Close(fd)
		return nil, nil, fmt.Errorf("IOCTL_GNTDEV_MAP_GRANT_REF: %w", err)
	}
	index := binary.LittleEndian.Uint64(m[8:])
	prot := syscall.PROT_READ
	if writable {
		prot |= syscall.PROT_WRITE
	}
	page, err := syscall.Mmap(fd, int64(index), pageSize, prot, syscall.MAP_SHARED)
	if err != nil {
		syscall.Close(fd)
		return nil, nil, fmt.Errorf("mmap grant %d: %w", ref, err)
	}
	unmap := func() error {
		defer syscall.Close(fd)
		if err := syscall.Munmap(page); err != nil {
			return err
		}
		var u [16]byte
		binary.LittleEndian.PutUint64(u[0:], index)
		binary.LittleEndian.PutUint32(u[8:], 1)
		if _, err := ioctl(fd, ioctlGntdevUnmapGrantRef, unsafe.Pointer(&u[0])); err != nil {
			return fmt.Errorf("IOCTL_GNTDEV_UNMAP_GRANT_REF: %w", err)
		}
		return nil
	}
	return page, unmap, nil
}

// grant maps the guest's grant read-only and checks that the page starts with prefix, followed
// by the byte pattern i%251 the guest wrote after it; then unmaps it so the guest can revoke it.
func grant(domid, ref uint32, prefix string) error {
	page, unmap, err := mapGrant(domid, ref, false)
	if err != nil {
		return err
	}
	got := append([]byte(nil), page...)
	if err := unmap(); err != nil {
		return err
	}
	if !bytes.HasPrefix(got, []byte(prefix)) {
		return fmt.Errorf("page starts %q, want %q", got[:len(prefix)], prefix)
	}
	for i := len(prefix); i < pageSize; i++ {
		if got[i] != byte(i%251) {
			return fmt.Errorf("byte %d is %#x, want %#x", i, got[i], byte(i%251))
		}
	}
	fmt.Printf("grant %d of domain %d: %d bytes as expected\n", ref, domid, pageSize)
	return nil
}

// pingPong binds to the guest's port and maps its sequence page, then for i = 1..count writes
// seq = i, notifies, and waits until the guest acks i. Events only say "look again": the page
// says what the guest saw, so spurious or coalesced events cannot fake a pass, and a lost
// notification shows as a timeout.
func pingPong(domid, port, seqRef uint32, count int) error {
	page, unmap, err := mapGrant(domid, seqRef, true)
	if err != nil {
		return err
	}
	defer unmap()
	// The guest's layout (examples/xencheck): seq at 0, written by us; ack at 4, by the guest.
	seq, ack := shmem.Uint32(page, 0), shmem.Uint32(page, 4)

	fd, err := syscall.Open("/dev/xen/evtchn", syscall.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var b [8]byte
	binary.LittleEndian.PutUint32(b[0:], domid)
	binary.LittleEndian.PutUint32(b[4:], port)
	local, err := ioctl(fd, ioctlEvtchnBindInterdom, unsafe.Pointer(&b[0]))
	if err != nil {
		return fmt.Errorf("IOCTL_EVTCHN_BIND_INTERDOMAIN: %w", err)
	}
	start := time.Now()
	events := 0
	for i := uint32(1); i <= uint32(count); i++ {
		seq.Store(i)
		var n [4]byte
		binary.LittleEndian.PutUint32(n[:], uint32(local))
		if _, err := ioctl(fd, ioctlEvtchnNotify, unsafe.Pointer(&n[0])); err != nil {
			return fmt.Errorf("IOCTL_EVTCHN_NOTIFY %d: %w", i, err)
		}
		for ack.Load() != i {
			if err := awaitEvent(fd, uint32(local), 10*time.Second); err != nil {
				return fmt.Errorf("ack of %d (guest acked %d): %w", i, ack.Load(), err)
			}
			events++
		}
	}
	fmt.Printf("evtchn: %d notifications acked in order in %v (%d events back)\n",
		count, time.Since(start).Round(time.Millisecond), events)
	return nil
}

// awaitEvent reads one pending port from the evtchn device, then unmasks it by writing it back.
func awaitEvent(fd int, port uint32, timeout time.Duration) error {
	pfd := []pollFd{{fd: int32(fd), events: 1}} // POLLIN
	r, _, e := syscall.Syscall(syscall.SYS_POLL, uintptr(unsafe.Pointer(&pfd[0])), 1, uintptr(timeout.Milliseconds()))
	if e != 0 {
		return e
	}
	if r == 0 {
		return fmt.Errorf("no event within %v", timeout)
	}
	var p [4]byte
	if _, err := syscall.Read(fd, p[:]); err != nil {
		return err
	}
	if got := binary.LittleEndian.Uint32(p[:]); got != port {
		return fmt.Errorf("event on port %d, want %d", got, port)
	}
	_, err := syscall.Write(fd, p[:])
	return err
}

type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

// udpEcho sends count datagrams of size bytes to an echo server, round-robin over flows
// sockets (so several flows, hence queues, carry them), and checks each answer.
func udpEcho(addr string, count, size, flows int) error {
	conns := make([]net.Conn, max(flows, 1))
	for i := range conns {
		c, err := net.Dial("udp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		conns[i] = c
	}
	buf := make([]byte, size)
	got := make([]byte, size+1)
	lost := 0
	for i := 0; i < count; i++ {
		c := conns[i%len(conns)]
		for j := range buf {
			buf[j] = byte(i + j)
		}
		if _, err := c.Write(buf); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Read(got)
		if err != nil {
			lost++
			continue
		}
		if !bytes.Equal(got[:n], buf) {
			return fmt.Errorf("datagram %d came back altered (%d bytes)", i, n)
		}
	}
	if lost > 0 {
		return fmt.Errorf("%d of %d datagrams unanswered", lost, count)
	}
	fmt.Printf("udp: %d datagrams of %d bytes over %d flows echoed\n", count, size, len(conns))
	return nil
}

// writePattern writes the first n bytes of the internal/pattern stream to w.
func writePattern(w io.Writer, n int64) error {
	if n < 0 {
		return fmt.Errorf("-bytes %d is negative", n)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	if _, err := io.Copy(bw, pattern.NewReader(n)); err != nil {
		return err
	}
	return bw.Flush()
}
