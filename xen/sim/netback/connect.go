// Connecting to the frontend's queues and disconnecting from them (xenbus.c connect,
// connect_data_rings, read_xenbus_vif_flags; interface.c xenvif_connect_data).

package netback

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/ring"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// readUint reads an unsigned key; absent gives def, as xenbus_read_unsigned does.
func (b *Backend) readUint(ctx context.Context, path string, def uint64) (uint64, error) {
	v, err := b.xs.Read(ctx, path)
	if errors.Is(err, xen.ENOENT) {
		return def, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(string(v), 10, 32)
	if err != nil {
		return def, nil // xenbus_read_unsigned: an unparsable value reads as the default
	}
	return n, nil
}

func (b *Backend) flag(ctx context.Context, key string) bool {
	n, err := b.readUint(ctx, b.front+"/"+key, 0)
	return err == nil && n != 0
}

// readFlags is read_xenbus_vif_flags: request-rx-copy is required (the flipping mode it
// replaced is gone), the rest are optional.
func (b *Backend) readFlags(ctx context.Context) (frontFlags, error) {
	var f frontFlags
	rxCopy, err := b.readUint(ctx, b.front+"/request-rx-copy", 0)
	if err != nil {
		return f, fmt.Errorf("reading %s/request-rx-copy: %w", b.front, err)
	}
	if rxCopy == 0 {
		return f, fmt.Errorf("%s/request-rx-copy: %w", b.front, xen.EOPNOTSUPP)
	}
	f.canSG = b.flag(ctx, "feature-sg")
	f.gsoV4 = b.flag(ctx, "feature-gso-tcpv4")
	f.gsoV6 = b.flag(ctx, "feature-gso-tcpv6")
	f.ipCsum = !b.flag(ctx, "feature-no-csum-offload")
	f.ipv6Csum = b.flag(ctx, "feature-ipv6-csum-offload")
	return f, nil
}

// connect is xenbus.c's connect: the number of queues, the frontend's flags, then each
// queue's rings and event channels. On error nothing stays connected.
func (b *Backend) connect(ctx context.Context) error {
	n, err := b.readUint(ctx, b.front+"/multi-queue-num-queues", 1)
	if err != nil {
		return err
	}
	if n > uint64(b.maxQueues()) {
		return fmt.Errorf("guest requested %d queues, exceeding the maximum of %d: %w", n, b.maxQueues(), xen.EINVAL)
	}
	if n == 0 {
		return fmt.Errorf("guest requested 0 queues: %w", xen.EINVAL)
	}
	fe, err := b.readFlags(ctx)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.fe = fe
	b.mu.Unlock()
	var qs []*queue
	for i := range int(n) {
		dir := b.front
		if n > 1 {
			dir = fmt.Sprintf("%s/queue-%d", b.front, i)
		}
		q, err := b.connectDataRings(ctx, i, dir)
		if err != nil {
			for _, q := range qs {
				q.stop()
			}
			return err
		}
		qs = append(qs, q)
	}
	b.mu.Lock()
	b.queues = qs
	b.mu.Unlock()
	for _, q := range qs {
		q.start()
	}
	return nil
}

// connectDataRings is connect_data_rings with xenvif_connect_data: the ring references and
// the event channel(s) of one queue, the rings mapped (xenvif_map_frontend_data_rings, which
// attaches at the frontend's current rsp_prod) and the channels bound.
func (b *Backend) connectDataRings(ctx context.Context, index int, dir string) (q *queue, err error) {
	txRef, err := xenstore.ReadUint(ctx, b.xs, dir+"/tx-ring-ref", 32)
	if err != nil {
		return nil, fmt.Errorf("reading %s/tx-ring-ref: %w", dir, err)
	}
	rxRef, err := xenstore.ReadUint(ctx, b.xs, dir+"/rx-ring-ref", 32)
	if err != nil {
		return nil, fmt.Errorf("reading %s/rx-ring-ref: %w", dir, err)
	}
	txPort, err := xenstore.ReadUint(ctx, b.xs, dir+"/event-channel-tx", 32)
	rxPort := txPort
	split := err == nil
	if split {
		rxPort, err = xenstore.ReadUint(ctx, b.xs, dir+"/event-channel-rx", 32)
	}
	if !split {
		txPort, err = xenstore.ReadUint(ctx, b.xs, dir+"/event-channel", 32)
		rxPort = txPort
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s/event-channel(-tx/rx): %w", dir, err)
	}

	q = newQueue(b, index)
	// The failure paths below return nil for q: undo through nq, not the named result.
	nq := q
	defer func() {
		if err != nil {
			nq.stop()
		}
	}()
	dom := b.dom0.Domain
	if q.txMap, err = dom.MapGrant(b.guest, xen.GrantRef(txRef), true); err != nil {
		return nil, fmt.Errorf("mapping tx ring %d: %w", txRef, err)
	}
	if q.rxMap, err = dom.MapGrant(b.guest, xen.GrantRef(rxRef), true); err != nil {
		return nil, fmt.Errorf("mapping rx ring %d: %w", rxRef, err)
	}
	txh, rxh := header{q.txMap.Data}, header{q.rxMap.Data}
	txBack, err := ring.AttachBack(q.txMap.Data, netif.TxSlotSize, txh.rspProd())
	if err != nil {
		return nil, err
	}
	if txh.reqProd()-txh.rspProd() > uint32(txBack.Size()) {
		return nil, fmt.Errorf("tx ring: req_prod %d, rsp_prod %d: %w", txh.reqProd(), txh.rspProd(), xen.EIO)
	}
	rxBack, err := ring.AttachBack(q.rxMap.Data, netif.RxSlotSize, rxh.rspProd())
	if err != nil {
		return nil, err
	}
	if rxh.reqProd()-rxh.rspProd() > uint32(rxBack.Size()) {
		return nil, fmt.Errorf("rx ring: req_prod %d, rsp_prod %d: %w", rxh.reqProd(), rxh.rspProd(), xen.EIO)
	}
	if q.vif, err = newVif(dom, b.guest, txBack, q.txMap.Data, q.deliverTx); err != nil {
		return nil, err
	}
	q.vif.fault = b.currentFault
	if err := q.rx.init(q, rxBack, rxh); err != nil {
		return nil, err
	}
	if q.txCh, err = b.dom0.Events.BindInterdomain(b.guest, xen.Port(txPort)); err != nil {
		return nil, fmt.Errorf("binding event channel %d: %w", txPort, err)
	}
	q.rxCh = q.txCh
	if split {
		if q.rxCh, err = b.dom0.Events.BindInterdomain(b.guest, xen.Port(rxPort)); err != nil {
			q.rxCh = nil
			return nil, fmt.Errorf("binding event channel %d: %w", rxPort, err)
		}
	}
	return q, nil
}

// disconnect is backend_disconnect / xenvif_disconnect_data: stop the queues, unbind, unmap.
func (b *Backend) disconnect() {
	b.mu.Lock()
	qs := b.queues
	b.queues = nil
	b.mu.Unlock()
	for _, q := range qs {
		q.stop()
	}
}
