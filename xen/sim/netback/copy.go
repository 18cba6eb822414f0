// Grant copies without allocation: ops are encoded into a buffer sized once per queue.

package netback

import (
	"fmt"

	"github.com/tamaxen/tamaxen/xen/sim"
)

// copier issues GNTTABOP_copy batches for one queue (xenvif_rx_copy_flush and the copy half of
// xenvif_tx_action both hand Xen an array of struct gnttab_copy).
type copier struct {
	dom *sim.Domain
	buf []byte // room for maxOps encoded ops
}

func newCopier(dom *sim.Domain, maxOps int) copier {
	return copier{dom: dom, buf: make([]byte, maxOps*sim.SizeofGnttabCopy)}
}

// run performs ops and stores each one's status back into it.
func (c *copier) run(ops []sim.CopyOp) error {
	n := len(ops) * sim.SizeofGnttabCopy
	if n > len(c.buf) {
		return fmt.Errorf("netback: %d copy ops in one batch", len(ops))
	}
	for i := range ops {
		ops[i].Encode(c.buf[i*sim.SizeofGnttabCopy:])
	}
	if err := c.dom.Hypervisor().GrantTableOp(sim.GNTTABOP_copy, c.buf[:n], uint32(len(ops))); err != nil {
		return err
	}
	for i := range ops {
		var op sim.CopyOp
		op.Decode(c.buf[i*sim.SizeofGnttabCopy:])
		ops[i].Status = op.Status
	}
	return nil
}
