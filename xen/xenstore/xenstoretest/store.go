// The in-memory tree of the fake daemon: nodes, paths, permissions and watch firing.

// Package xenstoretest is a fake xenstored for tests: an in-memory store that speaks the
// io/xs_wire.h protocol over any io.ReadWriter (net.Pipe) or over a xenstore_domain_interface
// page with an event channel, as the real daemon does for a guest.
//
// It implements what guests use: read, write, mkdir, rm, directory, permissions (stored, not
// enforced), transactions with conflict detection, and watches that fire like xenstored's
// (on the node, its ancestors' watches, and for XS_RM the watches below it). Tests can act as
// the toolstack or a backend through the Server's own methods, which fire watches too, and can
// inject failures. It frames messages with encoding/binary rather than package xenstore's
// helpers, so the client's framing is checked against an independent implementation.
package xenstoretest

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tamaxen/tamaxen/internal/xsdaemon"
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// node is one entry of the store.
type node struct {
	value []byte
	perms []xenstore.Perm
}

// tree maps absolute paths to nodes; a transaction works on a copy.
type tree map[string]*node

func (t tree) clone() tree {
	c := make(tree, len(t))
	for p, n := range t {
		cp := *n
		c[p] = &cp
	}
	return c
}

// create makes p and any missing ancestors; new nodes inherit their parent's permissions, as
// in xenstored. It reports whether p was new.
func (t tree) create(p string) bool {
	if _, ok := t[p]; ok {
		return false
	}
	t.create(xsdaemon.Parent(p))
	t[p] = &node{perms: slices.Clone(t[xsdaemon.Parent(p)].perms)}
	return true
}

func (t tree) children(p string) []string {
	var names []string
	for q := range t {
		if q != "/" && xsdaemon.Parent(q) == p {
			names = append(names, xsdaemon.Base(q))
		}
	}
	slices.Sort(names)
	return names
}

func (t tree) remove(p string) {
	for q := range maps.Clone(t) {
		if xsdaemon.IsBelow(q, p) {
			delete(t, q)
		}
	}
}

// change is a modification that fires watches; recurse is set for removals, which also fire
// the watches set below the removed node.
type change struct {
	path    string
	recurse bool
}

// validChars are the characters xenstored allows in a node name.
const validChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/_@"

// resolve turns a request path into an absolute one, refusing what xenstored refuses.
func (s *Server) resolve(p string, allowSpecial bool) (string, error) {
	if strings.HasPrefix(p, "@") {
		if !allowSpecial || strings.ContainsRune(p, '/') {
			return "", xen.EINVAL
		}
		return p, nil
	}
	limit := xenstore.XENSTORE_REL_PATH_MAX
	if strings.HasPrefix(p, "/") {
		limit = xenstore.XENSTORE_ABS_PATH_MAX
	}
	if p == "" || len(p) > limit || strings.Trim(p, validChars) != "" ||
		strings.Contains(p, "//") || (len(p) > 1 && strings.HasSuffix(p, "/")) {
		return "", xen.EINVAL
	}
	if !strings.HasPrefix(p, "/") {
		p = s.home() + "/" + p
	}
	return p, nil
}

func (s *Server) home() string { return fmt.Sprintf("/local/domain/%d", s.domid) }

// fire queues watch events for the changes on every connection that watches them. Called with
// s.mu held.
func (s *Server) fire(changes []change) {
	for c := range s.conns {
		for _, w := range c.watches {
			for _, ch := range changes {
				if p, ok := w.Event(ch.path, ch.recurse, s.home()); ok {
					c.out.Event(p, w.Token)
				}
			}
		}
	}
}

// Write sets a node as the toolstack or a backend would, firing watches.
func (s *Server) Write(path, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.resolve(path, false)
	if err != nil {
		return err
	}
	s.nodes.create(p)
	s.nodes[p].value = []byte(value)
	s.commit([]change{{path: p}})
	return nil
}

// Read returns a node's value and whether it exists.
func (s *Server) Read(path string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.resolve(path, false)
	if err != nil {
		return "", false
	}
	n, ok := s.nodes[p]
	if !ok {
		return "", false
	}
	return string(n.value), true
}

// Rm removes a node and its children, firing watches.
func (s *Server) Rm(path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.resolve(path, false)
	if err != nil {
		return err
	}
	if _, ok := s.nodes[p]; !ok {
		return xen.ENOENT
	}
	s.nodes.remove(p)
	s.commit([]change{{path: p, recurse: true}})
	return nil
}

// commit records a change to the live tree: it invalidates open transactions and fires
// watches. Called with s.mu held.
func (s *Server) commit(changes []change) {
	s.gen++
	s.fire(changes)
}
