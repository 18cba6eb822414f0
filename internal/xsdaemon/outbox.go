// A connection's reply queue.

package xsdaemon

import (
	"io"
	"sync"

	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// Outbox queues a connection's replies and watch events without bound, and Run writes them
// out, so that a daemon firing watches under its own lock never waits for a slow client.
type Outbox struct {
	mu     sync.Mutex
	cond   *sync.Cond
	queue  [][]byte
	closed bool
}

// NewOutbox returns an empty queue.
func NewOutbox() *Outbox {
	o := &Outbox{}
	o.cond = sync.NewCond(&o.mu)
	return o
}

// Send queues one message.
func (o *Outbox) Send(t xenstore.MsgType, reqID, txID uint32, payload []byte) {
	msg := make([]byte, xenstore.SockmsgSize+len(payload))
	xenstore.Header{Type: t, ReqID: reqID, TxID: txID, Len: uint32(len(payload))}.Encode(msg)
	copy(msg[xenstore.SockmsgSize:], payload)
	o.mu.Lock()
	o.queue = append(o.queue, msg)
	o.cond.Signal()
	o.mu.Unlock()
}

// Event queues a watch event; xenstored sends them with req_id and tx_id 0.
func (o *Outbox) Event(path, token string) {
	o.Send(xenstore.XS_WATCH_EVENT, 0, 0, []byte(path+"\x00"+token+"\x00"))
}

// Run writes queued messages to w, in order, until Close or a failed write.
func (o *Outbox) Run(w io.Writer) {
	for {
		o.mu.Lock()
		for len(o.queue) == 0 && !o.closed {
			o.cond.Wait()
		}
		if o.closed {
			o.mu.Unlock()
			return
		}
		msg := o.queue[0]
		o.queue = o.queue[1:]
		o.mu.Unlock()
		if _, err := w.Write(msg); err != nil {
			return
		}
	}
}

// Close ends Run and drops what is still queued.
func (o *Outbox) Close() {
	o.mu.Lock()
	o.closed = true
	o.cond.Broadcast()
	o.mu.Unlock()
}

// Len is the number of messages queued and not yet written.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.queue)
}
