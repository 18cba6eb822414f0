// Connections: framing, the request dispatcher, and the reply queue.

package xenstored

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/tamaxen/tamaxen/internal/xsdaemon"
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// conn is one client connection, acting as domain dom. Replies and events go through its
// outbox, so firing watches under Store.mu never waits for a slow client.
type conn struct {
	s       *Store
	dom     xen.DomID
	watches xsdaemon.Watches // guarded by s.mu
	out     *xsdaemon.Outbox
}

func (s *Store) newConn(dom xen.DomID) *conn {
	return &conn{s: s, dom: dom, out: xsdaemon.NewOutbox()}
}

// serve speaks the protocol on rw until reading fails or the client breaks the protocol, then
// drops the connection's watches and transactions, as xenstored does.
func (s *Store) serve(c *conn, rw io.ReadWriter) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	err := xsdaemon.Serve(rw, c.out, func(h xenstore.Header, payload []byte) {
		s.handle(c, h.Type, h.ReqID, h.TxID, payload)
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if errors.Is(err, xsdaemon.ErrPayloadTooBig) {
		s.dropped++
	}
	delete(s.conns, c)
	for id, tx := range s.txs {
		if tx.c == c {
			delete(s.txs, id)
		}
	}
}

var okReply = []byte("OK\x00")

// args splits a payload into n NUL-terminated strings and the rest.
func args(payload []byte, n int) ([]string, []byte, bool) {
	out := make([]string, n)
	for i := range out {
		j := bytes.IndexByte(payload, 0)
		if j < 0 {
			return nil, nil, false
		}
		out[i] = string(payload[:j])
		payload = payload[j+1:]
	}
	return out, payload, true
}

func (s *Store) handle(c *conn, t xenstore.MsgType, reqID, txID uint32, payload []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[t]++
	reply, err := s.dispatchLocked(c, t, txID, payload)
	if err != nil {
		var e xen.Errno
		var f fault
		name := "EINVAL"
		if errors.As(err, &f) {
			name = string(f)
		} else if errors.As(err, &e) {
			name = strings.TrimPrefix(e.Error(), "xen: ")
		}
		c.out.Send(xenstore.XS_ERROR, reqID, txID, []byte(name+"\x00"))
		return
	}
	c.out.Send(t, reqID, txID, reply)
	if t == xenstore.XS_WATCH {
		// xenstored fires every new watch once, right after acknowledging it.
		w := c.watches[len(c.watches)-1]
		c.out.Event(w.Path, w.Token)
	}
}

// dispatchLocked carries out one request of c and returns the reply's payload.
func (s *Store) dispatchLocked(c *conn, t xenstore.MsgType, txID uint32, payload []byte) ([]byte, error) {
	v := view{s: s}
	if txID != 0 {
		tx := s.txs[txID]
		if tx == nil || tx.c != c {
			return nil, xen.ENOENT
		}
		v.tx = tx
	}
	switch t {
	case xenstore.XS_TRANSACTION_START:
		if txID != 0 {
			return nil, xen.EBUSY
		}
		id := s.nextTx
		s.nextTx++
		s.txs[id] = &transaction{c: c, nodes: make(map[string]*node), accessed: make(map[string]uint64)}
		return []byte(strconv.FormatUint(uint64(id), 10) + "\x00"), nil
	case xenstore.XS_TRANSACTION_END:
		return s.endTxLocked(v.tx, txID, payload)
	case xenstore.XS_WATCH, xenstore.XS_UNWATCH:
		return c.watchOpLocked(t, payload)
	case xenstore.XS_GET_DOMAIN_PATH:
		a, _, ok := args(payload, 1)
		if !ok {
			return nil, xen.EINVAL
		}
		d, err := strconv.ParseUint(a[0], 10, 16)
		if err != nil {
			return nil, xen.EINVAL
		}
		return []byte(homePath(xen.DomID(d)) + "\x00"), nil
	case xenstore.XS_RESET_WATCHES:
		c.watches = nil
		return okReply, nil
	case xenstore.XS_READ, xenstore.XS_DIRECTORY, xenstore.XS_GET_PERMS, xenstore.XS_WRITE,
		xenstore.XS_MKDIR, xenstore.XS_RM, xenstore.XS_SET_PERMS:
		return s.nodeOpLocked(c.dom, v, t, payload)
	}
	// Privileged or unknown requests: a guest gets EACCES, anyone EINVAL for garbage.
	if t.Valid() {
		return nil, xen.EACCES
	}
	return nil, xen.EINVAL
}

// endTxLocked is XS_TRANSACTION_END of tx, the transaction txID names ("T" commits, "F"
// aborts).
func (s *Store) endTxLocked(tx *transaction, txID uint32, payload []byte) ([]byte, error) {
	a, _, ok := args(payload, 1)
	if tx == nil || !ok || (a[0] != "T" && a[0] != "F") {
		return nil, xen.EINVAL
	}
	delete(s.txs, txID)
	if a[0] == "F" {
		return okReply, nil
	}
	if s.failCommits > 0 {
		s.failCommits--
		return nil, xen.EAGAIN
	}
	if err := s.commitLocked(tx); err != nil {
		return nil, err
	}
	return okReply, nil
}

// nodeOpLocked carries out a request on the node its payload names, as domain dom, in v.
func (s *Store) nodeOpLocked(dom xen.DomID, v view, t xenstore.MsgType, payload []byte) ([]byte, error) {
	a, rest, ok := args(payload, 1)
	if !ok {
		return nil, xen.EINVAL
	}
	p, err := canonical(dom, a[0], false)
	if err != nil {
		return nil, err
	}
	if name := s.faults[p]; name != "" {
		return nil, fault(name)
	}
	switch t {
	case xenstore.XS_READ:
		return opRead(v, dom, p)
	case xenstore.XS_DIRECTORY:
		names, err := opDirectory(v, dom, p)
		return joinStrings(names), err
	case xenstore.XS_GET_PERMS:
		perms, err := opGetPerms(v, dom, p)
		names := make([]string, len(perms))
		for i, perm := range perms {
			names[i] = perm.String()
		}
		return joinStrings(names), err
	case xenstore.XS_WRITE:
		return okReply, opWrite(v, dom, p, rest)
	case xenstore.XS_MKDIR:
		return okReply, opWrite(v, dom, p, nil)
	case xenstore.XS_RM:
		return okReply, opRm(v, dom, p)
	}
	// XS_SET_PERMS
	var perms []xenstore.Perm
	for _, f := range bytes.Split(bytes.TrimSuffix(rest, []byte{0}), []byte{0}) {
		perm, err := xenstore.ParsePerm(string(f))
		if err != nil {
			return nil, xen.EINVAL
		}
		perms = append(perms, perm)
	}
	return okReply, opSetPerms(v, dom, p, perms)
}

// joinStrings is a reply of NUL-terminated strings.
func joinStrings(ss []string) []byte {
	var b []byte
	for _, s := range ss {
		b = append(append(b, s...), 0)
	}
	return b
}

func (c *conn) watchOpLocked(t xenstore.MsgType, payload []byte) ([]byte, error) {
	a, _, ok := args(payload, 2)
	if !ok {
		return nil, xen.EINVAL
	}
	p, err := canonical(c.dom, a[0], true)
	if err != nil {
		return nil, err
	}
	if err := c.watches.Apply(t, xsdaemon.Watch{Path: a[0], Abs: p, Token: a[1]}); err != nil {
		return nil, err
	}
	return okReply, nil
}
