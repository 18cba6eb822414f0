// Store: the daemon's state, its watches, and the direct API for the toolstack and backends.

package xenstored

import (
	"fmt"
	"strings"
	"sync"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/sim"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// Store is the simulated xenstored.
type Store struct {
	dom0 *sim.Services // where the daemon runs: binds store ports, maps store pages

	mu        sync.Mutex // guards everything below
	nodes     map[string]*node
	gen       uint64
	txs       map[uint32]*transaction
	nextTx    uint32
	conns     map[*conn]struct{}
	rings     map[xen.DomID]*ringConn
	conflicts int
	dropped   int
	closed    bool

	faults      map[string]string // absolute path -> the error every request naming it gets
	failCommits int               // commits still to refuse with EAGAIN
	counts      map[xenstore.MsgType]int

	wg sync.WaitGroup // serving goroutines
}

// New returns a store holding "/" and "/local/domain" owned by dom0, as xenstored starts.
// dom0 are the booted services of the domain xenstored runs in; only Introduce needs them,
// and a Store used solely through Client may pass nil.
func New(dom0 *sim.Services) *Store {
	s := &Store{
		dom0:   dom0,
		nodes:  make(map[string]*node),
		txs:    make(map[uint32]*transaction),
		nextTx: 1,
		conns:  make(map[*conn]struct{}),
		rings:  make(map[xen.DomID]*ringConn),
		faults: make(map[string]string),
		counts: make(map[xenstore.MsgType]int),
	}
	s.nodes["/"] = &node{perms: []xenstore.Perm{{Dom: 0, Access: xenstore.AccessNone}}}
	for _, p := range []string{"/local", "/local/domain", "/tool"} {
		_ = opWrite(view{s: s}, 0, p, nil)
	}
	return s
}

func homePath(dom xen.DomID) string { return fmt.Sprintf("/local/domain/%d", dom) }

// fireLocked queues the watch events of changes that just became live, on every connection
// with a watch on the changed node or above it (and, for removals, below it), if the
// connection's domain may read the node (xenstored's add_event check).
func (s *Store) fireLocked(changes []change) {
	for c := range s.conns {
		for _, w := range c.watches {
			for _, ch := range changes {
				if !strings.HasPrefix(ch.path, "@") && !canRead(c.dom, ch.perms) {
					continue
				}
				if p, ok := w.Event(ch.path, ch.recurse, homePath(c.dom)); ok {
					c.out.Event(p, w.Token)
				}
			}
		}
	}
}

// The direct API acts as dom0, as the toolstack and in-process backends do, on the live tree;
// it fires watches like any write.

// Write sets a node, creating it and its parents.
func (s *Store) Write(path, value string) error {
	return s.do(path, func(v view, p string) error { return opWrite(v, 0, p, []byte(value)) })
}

// Mkdir creates a node with perms (nil: inherited), leaving an existing node's value alone.
func (s *Store) Mkdir(path string, perms []xenstore.Perm) error {
	return s.do(path, func(v view, p string) error {
		if err := opWrite(v, 0, p, nil); err != nil || perms == nil {
			return err
		}
		return opSetPerms(v, 0, p, perms)
	})
}

// SetPerms replaces a node's permissions.
func (s *Store) SetPerms(path string, perms []xenstore.Perm) error {
	return s.do(path, func(v view, p string) error { return opSetPerms(v, 0, p, perms) })
}

// Rm removes a node and everything below it.
func (s *Store) Rm(path string) error {
	return s.do(path, func(v view, p string) error { return opRm(v, 0, p) })
}

// Read returns a node's value; ok is false if it does not exist.
func (s *Store) Read(path string) (value string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.nodes[path]; n != nil {
		return string(n.value), true
	}
	return "", false
}

// Perms returns a node's permissions, or nil.
func (s *Store) Perms(path string) []xenstore.Perm {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.nodes[path]; n != nil {
		return append([]xenstore.Perm(nil), n.perms...)
	}
	return nil
}

// Directory lists a node's children.
func (s *Store) Directory(path string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.nodes[path]; n != nil {
		return append([]string(nil), n.children...)
	}
	return nil
}

// Walk calls fn for path and every node below it, parents first, children in name order.
func (s *Store) Walk(path string, fn func(path, value string, perms []xenstore.Perm)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var walk func(p string)
	walk = func(p string) {
		n := s.nodes[p]
		if n == nil {
			return
		}
		fn(p, string(n.value), append([]xenstore.Perm(nil), n.perms...))
		for _, c := range n.children {
			walk(strings.TrimSuffix(p, "/") + "/" + c)
		}
	}
	walk(path)
}

// Stats are counters for tests.
type Stats struct {
	Conflicts    int // commits refused with EAGAIN
	Dropped      int // connections dropped for breaking the protocol
	Transactions int // open transactions
	Watches      int // registered watches
}

// Stats returns the counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Conflicts: s.conflicts, Dropped: s.dropped, Transactions: len(s.txs)}
	for c := range s.conns {
		st.Watches += len(c.watches)
	}
	return st
}

// update runs fn on the live tree as dom0 under the store's lock, so a group of changes
// (a device's frontend and backend directories) appears at once, like a toolstack
// transaction that cannot conflict. Watches fire as each change is made.
func (s *Store) update(fn func(v view) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn(view{s: s})
}

func (s *Store) do(path string, fn func(v view, p string) error) error {
	p, err := canonical(0, path, false)
	if err != nil {
		return err
	}
	return s.update(func(v view) error { return fn(v, p) })
}
