//go:build linux && !tamago

package unikernel

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"github.com/tamaxen/tamaxen/internal/csum"
	"github.com/tamaxen/tamaxen/xen/sim/netback"
)

// tapLink joins the simulated vif to a Linux TAP device: the host kernel becomes the guest's
// peer, as dom0's bridge is on Xen.
type tapLink struct {
	f    *os.File
	be   *netback.Backend
	wg   sync.WaitGroup
	mu   sync.Mutex
	wbuf []byte
}

// ioctl numbers and flags of linux/if_tun.h.
const (
	tunSetIff = 0x400454ca
	iffTap    = 0x0002
	iffNoPi   = 0x1000
)

func openTap(name string, be *netback.Backend) (*tapLink, error) {
	if len(name) >= 16 {
		return nil, fmt.Errorf("tap %q: name too long", name)
	}
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("tap: %w", err)
	}
	var req [40]byte // struct ifreq: name, then flags
	copy(req[:], name)
	*(*uint16)(unsafe.Pointer(&req[16])) = iffTap | iffNoPi
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), tunSetIff, uintptr(unsafe.Pointer(&req[0]))); e != 0 {
		f.Close()
		return nil, fmt.Errorf("tap %q: TUNSETIFF: %w", name, e)
	}
	t := &tapLink{f: f, be: be}
	be.SetDeliver(t.write)
	t.wg.Add(1)
	go t.read()
	return t, nil
}

// write sends a frame the guest sent to the host kernel. The TAP device takes no offload
// metadata without a virtio-net header, so partial checksums are completed here; TSO frames
// go as they are (the kernel accepts IP packets above the MTU on receive).
func (t *tapLink) write(f netback.Frame) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.wbuf = append(t.wbuf[:0], f.Data...)
	if f.CsumBlank {
		csum.Complete(t.wbuf)
	}
	_, _ = t.f.Write(t.wbuf)
}

func (t *tapLink) read() {
	defer t.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, err := t.f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			continue
		}
		_ = t.be.Inject(netback.Frame{Data: buf[:n]})
	}
}

func (t *tapLink) close() {
	t.be.SetDeliver(nil)
	_ = t.f.Close()
	t.wg.Wait()
}
