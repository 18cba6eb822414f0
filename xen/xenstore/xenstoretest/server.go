// Server: connections, framing and the request handlers of the fake daemon.

package xenstoretest

import (
	"errors"
	"io"
	"strconv"
	"sync"

	"github.com/tamaxen/tamaxen/internal/xsdaemon"
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// Server is a fake xenstored holding one store, serving any number of connections, all on
// behalf of one guest domain (relative paths resolve under /local/domain/<domid>).
type Server struct {
	domid xen.DomID

	mu      sync.Mutex // guards everything below
	nodes   tree
	gen     uint64 // bumped by every change to nodes; a transaction started earlier conflicts
	txs     map[uint32]*transaction
	nextTx  uint32
	conns   map[*conn]struct{}
	faults  map[string]string // absolute path -> error name every request on it gets
	failTx  int               // commits still to refuse with EAGAIN
	counts  map[xenstore.MsgType]int
	dropped int // connections dropped for protocol violations
}

type transaction struct {
	c       *conn
	base    uint64
	nodes   tree
	changes []change
}

// NewServer returns a store holding the guest's home directory with its domid and name, as
// the toolstack creates it.
func NewServer(domid xen.DomID, name string) *Server {
	s := &Server{
		domid:  domid,
		nodes:  tree{"/": {perms: []xenstore.Perm{{Dom: 0, Access: xenstore.AccessNone}}}},
		txs:    make(map[uint32]*transaction),
		nextTx: 1,
		conns:  make(map[*conn]struct{}),
		faults: make(map[string]string),
		counts: make(map[xenstore.MsgType]int),
	}
	home := s.home()
	s.nodes.create(home)
	s.nodes[home].perms = []xenstore.Perm{{Dom: domid, Access: xenstore.AccessNone}}
	_ = s.Write(home+"/domid", strconv.Itoa(int(domid)))
	_ = s.Write(home+"/name", name)
	return s
}

// Fail makes every request naming path answer with the error string name ("EACCES"); an empty
// name removes the fault.
func (s *Server) Fail(path, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, _ := s.resolve(path, true)
	if name == "" {
		delete(s.faults, p)
	} else {
		s.faults[p] = name
	}
}

// FailCommits makes the next n transaction commits fail with EAGAIN, as on a conflict.
func (s *Server) FailCommits(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failTx = n
}

// Count returns how many requests of type t the server handled.
func (s *Server) Count(t xenstore.MsgType) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[t]
}

// Watches returns the number of watches registered over all connections.
func (s *Server) Watches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		n += len(c.watches)
	}
	return n
}

// Transactions returns the number of open transactions.
func (s *Server) Transactions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.txs)
}

// Dropped returns how many connections were dropped for breaking the protocol.
func (s *Server) Dropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// conn is one client connection. Replies and events go through its outbox, so firing watches
// under s.mu never waits for a slow client.
type conn struct {
	s       *Server
	watches xsdaemon.Watches // guarded by s.mu
	out     *xsdaemon.Outbox
}

// Serve speaks the protocol on rw until reading fails or the client breaks the protocol, then
// drops the connection's watches and transactions, as xenstored does. It returns the read error.
func (s *Server) Serve(rw io.ReadWriter) error {
	c := &conn{s: s, out: xsdaemon.NewOutbox()}
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
		err = io.ErrUnexpectedEOF
	}
	delete(s.conns, c)
	for id, tx := range s.txs {
		if tx.c == c {
			delete(s.txs, id)
		}
	}
	return err
}
