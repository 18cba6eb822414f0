// view: the live tree, or a transaction's copy-on-write overlay that records what it touched.

package xenstored

import (
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// transaction is an open XenStore transaction. Like C xenstored since Xen 4.9 it does not
// snapshot the store: it reads live nodes on first access, remembering their generation, and
// keeps its writes in an overlay. Commit fails with EAGAIN if any node it read or wrote has
// changed since it first looked (including appearing or disappearing); otherwise the overlay
// becomes live at once.
type transaction struct {
	c        *conn
	nodes    map[string]*node  // overlay: written nodes, nil for removed ones
	accessed map[string]uint64 // generation of the live node at first access, 0 if absent
	changes  []change
}

// change is a modification that fires watches when it becomes live. perms are the node's
// permissions (for a removal, before it went), which decide who may see the event.
type change struct {
	path    string
	recurse bool // a removal, which also fires the watches set below path
	perms   []xenstore.Perm
}

// view is what the request handlers work on.
type view struct {
	s  *Store
	tx *transaction
}

func liveGen(n *node) uint64 {
	if n == nil {
		return 0
	}
	return n.gen
}

func (v view) get(p string) *node {
	if v.tx == nil {
		return v.s.nodes[p]
	}
	if n, ok := v.tx.nodes[p]; ok {
		return n
	}
	n := v.s.nodes[p]
	if _, seen := v.tx.accessed[p]; !seen {
		v.tx.accessed[p] = liveGen(n)
	}
	return n
}

// put writes (or with n == nil removes) a node. A live write stamps a new generation, which
// is what makes transactions that touched the node conflict.
func (v view) put(p string, n *node) {
	if v.tx == nil {
		if n == nil {
			delete(v.s.nodes, p)
			return
		}
		v.s.gen++
		n.gen = v.s.gen
		v.s.nodes[p] = n
		return
	}
	if _, seen := v.tx.accessed[p]; !seen {
		v.tx.accessed[p] = liveGen(v.s.nodes[p])
	}
	v.tx.nodes[p] = n
}

// note records a change: fired now for a live write, at commit for a transaction.
func (v view) note(ch change) {
	if v.tx != nil {
		v.tx.changes = append(v.tx.changes, ch)
		return
	}
	v.s.fireLocked([]change{ch})
}

// commitLocked ends tx with a commit: EAGAIN on conflict, else its writes go live.
func (s *Store) commitLocked(tx *transaction) error {
	for p, g := range tx.accessed {
		if liveGen(s.nodes[p]) != g {
			s.conflicts++
			return xen.EAGAIN
		}
	}
	live := view{s: s}
	for p, n := range tx.nodes {
		live.put(p, n)
	}
	s.fireLocked(tx.changes)
	return nil
}
