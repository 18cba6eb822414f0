// Raw frames on a Linux interface: an AF_PACKET socket that sends whatever bytes it is given,
// and one that captures what arrives, for the answers the checksum cases look for.

package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
	"unsafe"
)

const (
	ethPAll        = 0x0003
	packetOutgoing = 4 // sll_pkttype of a frame this host sent
)

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// link sends raw frames on one interface (a guest's vif: the frames go straight to its
// netback, past the bridge).
type link struct {
	name    string
	ifindex int
	fd      int
	// Counters of the frames sent, the times the interface's queue was full (ENOBUFS: the
	// guest is slower than the sender, which then waits), and the frames the kernel refused.
	sent, full, refused int
	firstRefusal        error
}

// openLink opens a send-only packet socket on the interface: bound with protocol 0, it
// receives nothing.
func openLink(name string) (*link, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, 0)
	if err != nil {
		return nil, fmt.Errorf("AF_PACKET socket (needs root): %w", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("bind to %s: %w", name, err)
	}
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4<<20)
	return &link{name: name, ifindex: ifi.Index, fd: fd}, nil
}

func (l *link) Close() error { return syscall.Close(l.fd) }

// send writes one frame. A full queue means the guest has not taken the previous frames yet:
// send waits for it (up to about 2 s per frame) rather than let the qdisc drop the frame, so
// that what was sent is what reached netback. Frames the kernel refuses outright (shorter
// than an Ethernet header, longer than the MTU) are counted, not errors.
func (l *link) send(f []byte) error {
	for wait := 50 * time.Microsecond; ; wait *= 2 {
		_, err := syscall.Write(l.fd, f)
		switch {
		case err == nil:
			l.sent++
			return nil
		case errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.EAGAIN):
			l.full++
			if wait > time.Second {
				return fmt.Errorf("%s: queue still full after 2 s: %w", l.name, err)
			}
			time.Sleep(wait)
		case errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EMSGSIZE):
			l.refused++
			if l.firstRefusal == nil {
				l.firstRefusal = fmt.Errorf("%d-byte frame: %w", len(f), err)
			}
			return nil
		default:
			return fmt.Errorf("%s: %w", l.name, err)
		}
	}
}

// ifreqMTU is struct ifreq with the ifr_mtu member of its union.
type ifreqMTU struct {
	name [16]byte
	mtu  int32
	_    [20]byte
}

// setMTU sets the interface's MTU and returns the previous one.
func setMTU(name string, mtu int) (int, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return 0, err
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)
	if err != nil {
		return 0, err
	}
	defer syscall.Close(fd)
	var r ifreqMTU
	copy(r.name[:], name)
	r.mtu = int32(mtu)
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCSIFMTU, uintptr(unsafe.Pointer(&r))); e != 0 {
		return ifi.MTU, fmt.Errorf("SIOCSIFMTU %s to %d: %w", name, mtu, e)
	}
	return ifi.MTU, nil
}

// capture receives every frame arriving on an interface (not those this host sends).
type capture struct {
	fd int
}

func openCapture(name string) (*capture, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, int(htons(ethPAll)))
	if err != nil {
		return nil, fmt.Errorf("AF_PACKET socket (needs root): %w", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(ethPAll), Ifindex: ifi.Index}); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("bind to %s: %w", name, err)
	}
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<20)
	tv := syscall.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return &capture{fd: fd}, nil
}

func (c *capture) Close() error { return syscall.Close(c.fd) }

// next returns the next incoming frame, or nil when none came within 100 ms.
func (c *capture) next(buf []byte) ([]byte, error) {
	for {
		n, from, err := syscall.Recvfrom(c.fd, buf, 0)
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if sll, ok := from.(*syscall.SockaddrLinklayer); ok && sll.Pkttype == packetOutgoing {
			continue
		}
		return buf[:n], nil
	}
}

// bridgeOf names the bridge an interface is a port of ("" for none), from sysfs.
func bridgeOf(ifname string) (string, error) {
	link, err := os.Readlink(filepath.Join("/sys/class/net", ifname, "master"))
	if errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(filepath.Join("/sys/class/net", ifname)); err != nil {
			return "", fmt.Errorf("no interface %s", ifname)
		}
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return filepath.Base(link), nil
}
