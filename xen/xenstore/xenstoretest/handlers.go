// Request handlers of the fake daemon, one per message type.

package xenstoretest

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/tamaxen/tamaxen/internal/xsdaemon"
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

var ok = []byte("OK\x00")

// args splits a request payload into its NUL-terminated strings; the last part of an XS_WRITE
// is the raw value, which has no terminator, so callers ask for the parts they expect.
func args(payload []byte, n int) ([]string, bool) {
	parts := bytes.SplitN(payload, []byte{0}, n+1)
	if len(parts) < n+1 { // fewer than n terminators
		return nil, false
	}
	out := make([]string, n)
	for i := range out {
		out[i] = string(parts[i])
	}
	return out, true
}

// handle answers one request. Errors are sent as XS_ERROR with the errno's name.
func (s *Server) handle(c *conn, t xenstore.MsgType, reqID, txID uint32, payload []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[t]++
	reply, err := s.dispatch(c, t, txID, payload)
	if err != nil {
		name := strings.TrimPrefix(err.Error(), "xen: ")
		if e, isFault := err.(fault); isFault {
			name = string(e)
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

// fault is an error string injected with Server.Fail.
type fault string

func (f fault) Error() string { return string(f) }

// view returns the tree a request works on: the live one, or its transaction's copy.
func (s *Server) view(c *conn, txID uint32) (tree, *transaction, error) {
	if txID == 0 {
		return s.nodes, nil, nil
	}
	tx := s.txs[txID]
	if tx == nil || tx.c != c {
		return nil, nil, xen.ENOENT
	}
	return tx.nodes, tx, nil
}

func (s *Server) dispatch(c *conn, t xenstore.MsgType, txID uint32, payload []byte) ([]byte, error) {
	switch t {
	case xenstore.XS_TRANSACTION_START:
		if txID != 0 {
			return nil, xen.EBUSY
		}
		id := s.nextTx
		s.nextTx++
		s.txs[id] = &transaction{c: c, base: s.gen, nodes: s.nodes.clone()}
		return []byte(strconv.FormatUint(uint64(id), 10) + "\x00"), nil
	case xenstore.XS_TRANSACTION_END:
		return s.endTx(c, txID, payload)
	case xenstore.XS_WATCH, xenstore.XS_UNWATCH:
		return s.watchOp(c, t, payload)
	}

	a, okArgs := args(payload, 1)
	if !okArgs {
		return nil, xen.EINVAL
	}
	p, err := s.resolve(a[0], false)
	if err != nil {
		return nil, err
	}
	if name := s.faults[p]; name != "" {
		return nil, fault(name)
	}
	nodes, tx, err := s.view(c, txID)
	if err != nil {
		return nil, err
	}
	var changes []change
	switch t {
	case xenstore.XS_READ:
		n := nodes[p]
		if n == nil {
			return nil, xen.ENOENT
		}
		return n.value, nil
	case xenstore.XS_DIRECTORY:
		if nodes[p] == nil {
			return nil, xen.ENOENT
		}
		var b []byte
		for _, name := range nodes.children(p) {
			b = append(append(b, name...), 0)
		}
		return b, nil
	case xenstore.XS_GET_PERMS:
		n := nodes[p]
		if n == nil {
			return nil, xen.ENOENT
		}
		var b []byte
		for _, perm := range n.perms {
			b = append(append(b, perm.String()...), 0)
		}
		return b, nil
	case xenstore.XS_WRITE:
		value := payload[len(a[0])+1:]
		nodes.create(p)
		nodes[p].value = bytes.Clone(value)
		changes = []change{{path: p}}
	case xenstore.XS_MKDIR:
		if nodes.create(p) {
			changes = []change{{path: p}}
		}
	case xenstore.XS_RM:
		if p == "/" {
			return nil, xen.EINVAL
		}
		if nodes[p] == nil {
			// Like xenstored: removing what is already gone succeeds if the parent exists.
			if nodes[xsdaemon.Parent(p)] == nil {
				return nil, xen.ENOENT
			}
			return ok, nil
		}
		nodes.remove(p)
		changes = []change{{path: p, recurse: true}}
	case xenstore.XS_SET_PERMS:
		n := nodes[p]
		if n == nil {
			return nil, xen.ENOENT
		}
		rest := bytes.TrimSuffix(payload[len(a[0])+1:], []byte{0})
		var perms []xenstore.Perm
		for _, f := range bytes.Split(rest, []byte{0}) {
			perm, err := xenstore.ParsePerm(string(f))
			if err != nil {
				return nil, xen.EINVAL
			}
			perms = append(perms, perm)
		}
		n.perms = perms
		changes = []change{{path: p}}
	default:
		// Privileged or unknown requests: a guest gets EACCES or EINVAL from xenstored.
		if t.Valid() {
			return nil, xen.EACCES
		}
		return nil, xen.EINVAL
	}
	if tx != nil {
		tx.changes = append(tx.changes, changes...)
	} else if changes != nil {
		s.commit(changes)
	}
	return ok, nil
}

func (s *Server) endTx(c *conn, txID uint32, payload []byte) ([]byte, error) {
	_, tx, err := s.view(c, txID)
	if err != nil || tx == nil {
		return nil, xen.ENOENT
	}
	a, okArgs := args(payload, 1)
	if !okArgs || (a[0] != "T" && a[0] != "F") {
		return nil, xen.EINVAL
	}
	delete(s.txs, txID)
	if a[0] == "F" {
		return ok, nil
	}
	if s.failTx > 0 {
		s.failTx--
		return nil, xen.EAGAIN
	}
	if tx.base != s.gen {
		return nil, xen.EAGAIN
	}
	if len(tx.changes) > 0 {
		s.nodes = tx.nodes
		s.commit(tx.changes)
	}
	return ok, nil
}

func (s *Server) watchOp(c *conn, t xenstore.MsgType, payload []byte) ([]byte, error) {
	a, okArgs := args(payload, 2)
	if !okArgs {
		return nil, xen.EINVAL
	}
	p, err := s.resolve(a[0], true)
	if err != nil {
		return nil, err
	}
	if err := c.watches.Apply(t, xsdaemon.Watch{Path: a[0], Abs: p, Token: a[1]}); err != nil {
		return nil, err
	}
	return ok, nil
}
