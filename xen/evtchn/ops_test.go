// Byte-exact encoding of the EVTCHNOP arguments and checking of their results.

package evtchn

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
)

// recHV records one call's arguments and plays Xen's part by writing an OUT port.
type recHV struct {
	cmd    uint32
	arg    []byte
	outOff int
	out    uint32
	err    error
}

func (r *recHV) EventChannelOp(cmd uint32, arg []byte) error {
	r.cmd, r.arg = cmd, append([]byte(nil), arg...)
	if r.err != nil {
		return r.err
	}
	if r.outOff >= 0 {
		le.PutUint32(arg[r.outOff:], r.out)
	}
	return nil
}
func (r *recHV) GrantTableOp(uint32, []byte, uint32) error { return xen.ENOSYS }
func (r *recHV) MemoryOp(uint32, []byte) (int64, error)    { return 0, xen.ENOSYS }
func (r *recHV) HVMOp(uint32, []byte) error                { return xen.ENOSYS }

func TestOpEncoding(t *testing.T) {
	tests := []struct {
		name   string
		call   func(xen.Hypervisor) (xen.Port, error)
		cmd    uint32
		arg    []byte // expected wire bytes before Xen writes the OUT field
		outOff int    // -1: no OUT port
	}{
		{"alloc_unbound", func(h xen.Hypervisor) (xen.Port, error) { return AllocUnbound(h, 0x0102) },
			EVTCHNOP_alloc_unbound, []byte{0xf0, 0x7f, 0x02, 0x01, 0, 0, 0, 0}, OffsetofEvtchnAllocUnboundPortOut},
		{"bind_interdomain", func(h xen.Hypervisor) (xen.Port, error) { return BindInterdomain(h, 0x0304, 0x0a0b0c0d) },
			EVTCHNOP_bind_interdomain, []byte{0x04, 0x03, 0, 0, 0x0d, 0x0c, 0x0b, 0x0a, 0, 0, 0, 0}, OffsetofEvtchnBindInterdomainLocalPortOut},
		{"bind_virq", func(h xen.Hypervisor) (xen.Port, error) { return BindVIRQ(h, VIRQ_DEBUG, 2) },
			EVTCHNOP_bind_virq, []byte{1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0}, OffsetofEvtchnBindVirqPortOut},
		{"close", func(h xen.Hypervisor) (xen.Port, error) { return 0, Close(h, 0x123) },
			EVTCHNOP_close, []byte{0x23, 0x01, 0, 0}, -1},
		{"send", func(h xen.Hypervisor) (xen.Port, error) { return 0, Send(h, 0xfff) },
			EVTCHNOP_send, []byte{0xff, 0x0f, 0, 0}, -1},
		{"unmask", func(h xen.Hypervisor) (xen.Port, error) { return 0, Unmask(h, 1) },
			EVTCHNOP_unmask, []byte{1, 0, 0, 0}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recHV{outOff: tt.outOff, out: 42}
			p, err := tt.call(h)
			require.NoError(t, err)
			assert.Equal(t, tt.cmd, h.cmd)
			assert.Equal(t, tt.arg, h.arg)
			if tt.outOff >= 0 {
				assert.Equal(t, xen.Port(42), p, "OUT port decoded from the argument after the call")
			}

			h = &recHV{outOff: tt.outOff, err: xen.EPERM}
			_, err = tt.call(h)
			assert.ErrorIs(t, err, xen.EPERM, "hypercall errors are returned")

			if tt.outOff >= 0 {
				for _, bad := range []uint32{0, EVTCHN_2L_NR_CHANNELS, 0xffffffff} {
					h = &recHV{outOff: tt.outOff, out: bad}
					_, err = tt.call(h)
					assert.ErrorIs(t, err, ErrBadPort, "hypervisor returned port %d", bad)
				}
			}
		})
	}
}

func TestPortOpRejectsBadPort(t *testing.T) {
	for _, p := range []xen.Port{0, EVTCHN_2L_NR_CHANNELS, 1 << 31} {
		h := &recHV{outOff: -1}
		for _, f := range []func(xen.Hypervisor, xen.Port) error{Close, Send, Unmask} {
			err := f(h, p)
			assert.True(t, errors.Is(err, ErrBadPort), "port %d: %v", p, err)
		}
		assert.Nil(t, h.arg, "no hypercall issued for port %d", p)
	}
}
