// Server: the simulator's xenstored, set up for one guest and seen from its home.

// Package xenstoretest is the simulator's xenstored (package xenstored) set up for unit tests of
// what talks to XenStore from a guest: one domain, whose home directory it owns, in a store where
// every other node is readable by everyone, so that a test can play the toolstack and a backend
// next to the guest without a permission getting in the way. Relative paths given to the
// Server's methods name nodes in the guest's home, as the guest's own requests do.
//
// It connects clients acting as the guest over net.Pipe or over a xenstore_domain_interface
// page with a pair of fake event channels, and hands on the daemon's fault injection.
package xenstoretest

import (
	"strconv"
	"strings"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/sim/xenstored"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// Server is a store serving one guest domain. Any number of its clients may be connected.
type Server struct {
	store *xenstored.Store
	domid xen.DomID
}

// NewServer returns a store holding the guest's home directory, owned by the guest, with its
// domid and name in it, as the toolstack writes them.
func NewServer(domid xen.DomID, name string) *Server {
	s := &Server{store: xenstored.New(nil), domid: domid}
	everyone := []xenstore.Perm{{Dom: 0, Access: xenstore.AccessRead}}
	for _, p := range []string{"/", "/local", "/local/domain", "/tool"} {
		_ = s.store.SetPerms(p, everyone)
	}
	_ = s.store.Mkdir(s.home(), []xenstore.Perm{{Dom: domid, Access: xenstore.AccessNone}})
	_ = s.Write("domid", strconv.Itoa(int(domid)))
	_ = s.Write("name", name)
	return s
}

func (s *Server) home() string { return "/local/domain/" + strconv.Itoa(int(s.domid)) }

// abs turns a path relative to the guest's home into an absolute one.
func (s *Server) abs(path string) string {
	if strings.HasPrefix(path, "/") || strings.HasPrefix(path, "@") {
		return path
	}
	return s.home() + "/" + path
}

// Write sets a node as the toolstack or a backend would, firing watches.
func (s *Server) Write(path, value string) error { return s.store.Write(s.abs(path), value) }

// Read returns a node's value and whether it exists.
func (s *Server) Read(path string) (string, bool) { return s.store.Read(s.abs(path)) }

// Rm removes a node and its children, firing watches.
func (s *Server) Rm(path string) error { return s.store.Rm(s.abs(path)) }

// Fail makes every request naming path answer with the error string name ("EACCES"); an empty
// name removes the fault.
func (s *Server) Fail(path, name string) { s.store.Fail(s.abs(path), name) }

// FailCommits makes the next n transaction commits fail with EAGAIN, as on a conflict.
func (s *Server) FailCommits(n int) { s.store.FailCommits(n) }

// Count returns how many requests of type t the server handled.
func (s *Server) Count(t xenstore.MsgType) int { return s.store.Count(t) }

// Watches returns the number of watches registered over all connections.
func (s *Server) Watches() int { return s.store.Stats().Watches }

// Transactions returns the number of open transactions.
func (s *Server) Transactions() int { return s.store.Stats().Transactions }

// Dropped returns how many connections were dropped for breaking the protocol.
func (s *Server) Dropped() int { return s.store.Stats().Dropped }
