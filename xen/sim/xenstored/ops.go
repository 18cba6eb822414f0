// The node operations, as xenstored_core.c performs them for a connection of domain dom.

package xenstored

import (
	"bytes"
	"slices"

	"github.com/tamaxen/tamaxen/internal/xsdaemon"
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// missing is errno_from_parents: a node that does not exist reads as ENOENT only to someone
// who may read its nearest existing ancestor, so that guests cannot probe other domains' trees.
func missing(v view, dom xen.DomID, p string) error {
	for q := xsdaemon.Parent(p); ; q = xsdaemon.Parent(q) {
		if n := v.get(q); n != nil {
			if canRead(dom, n.perms) {
				return xen.ENOENT
			}
			return xen.EACCES
		}
		if q == "/" {
			return xen.ENOENT
		}
	}
}

// readable returns the node at p if dom may read it.
func readable(v view, dom xen.DomID, p string) (*node, error) {
	n := v.get(p)
	if n == nil {
		return nil, missing(v, dom, p)
	}
	if !canRead(dom, n.perms) {
		return nil, xen.EACCES
	}
	return n, nil
}

func opRead(v view, dom xen.DomID, p string) ([]byte, error) {
	n, err := readable(v, dom, p)
	if err != nil {
		return nil, err
	}
	return n.value, nil
}

func opDirectory(v view, dom xen.DomID, p string) ([]string, error) {
	n, err := readable(v, dom, p)
	if err != nil {
		return nil, err
	}
	return n.children, nil
}

func opGetPerms(v view, dom xen.DomID, p string) ([]xenstore.Perm, error) {
	n, err := readable(v, dom, p)
	if err != nil {
		return nil, err
	}
	return n.perms, nil
}

// opWrite is do_write (value non-nil) and do_mkdir (value nil: an existing node is left alone).
func opWrite(v view, dom xen.DomID, p string, value []byte) error {
	if n := v.get(p); n != nil {
		if !canWrite(dom, n.perms) {
			return xen.EACCES
		}
		if value == nil {
			return nil
		}
		c := n.clone()
		c.value = bytes.Clone(value)
		v.put(p, c)
		v.note(change{path: p, perms: c.perms})
		return nil
	}
	return create(v, dom, p, value)
}

// create is construct_node: make p and its missing ancestors. Each new node inherits its
// parent's permissions, except that a node an unprivileged domain creates is owned by it.
// Creating needs write access to the nearest existing ancestor, which is what confines a guest
// to the directories the toolstack gave it.
func create(v view, dom xen.DomID, p string, value []byte) error {
	var todo []string
	q := p
	var anc *node
	for {
		todo = append(todo, q)
		q = xsdaemon.Parent(q)
		if anc = v.get(q); anc != nil {
			break
		}
	}
	if !canWrite(dom, anc.perms) {
		return xen.EACCES
	}
	par := anc.clone()
	for i := len(todo) - 1; i >= 0; i-- {
		name := todo[i]
		par.addChild(xsdaemon.Base(name))
		v.put(xsdaemon.Parent(name), par)
		n := &node{perms: slices.Clone(par.perms)}
		if dom != 0 {
			n.perms[0].Dom = dom
		}
		par = n
	}
	par.value = bytes.Clone(value)
	v.put(p, par)
	v.note(change{path: p, perms: par.perms})
	return nil
}

// opRm is do_rm: removing a node that is already gone succeeds if its parent exists.
func opRm(v view, dom xen.DomID, p string) error {
	if p == "/" {
		return xen.EINVAL
	}
	n := v.get(p)
	if n == nil {
		if par := v.get(xsdaemon.Parent(p)); par != nil && canRead(dom, par.perms) {
			return nil
		}
		return missing(v, dom, p)
	}
	if !canWrite(dom, n.perms) {
		return xen.EACCES
	}
	removeTree(v, p, n)
	par := v.get(xsdaemon.Parent(p)).clone()
	par.removeChild(xsdaemon.Base(p))
	v.put(xsdaemon.Parent(p), par)
	v.note(change{path: p, recurse: true, perms: n.perms})
	return nil
}

func removeTree(v view, p string, n *node) {
	for _, c := range n.children {
		cp := p + "/" + c
		if p == "/" {
			cp = "/" + c
		}
		if cn := v.get(cp); cn != nil {
			removeTree(v, cp, cn)
		}
	}
	v.put(p, nil)
}

// opSetPerms is do_set_perms: it needs write access, and only a privileged domain may give a
// node away (change its owner).
func opSetPerms(v view, dom xen.DomID, p string, perms []xenstore.Perm) error {
	if len(perms) == 0 {
		return xen.EINVAL
	}
	n := v.get(p)
	if n == nil {
		return missing(v, dom, p)
	}
	if !canWrite(dom, n.perms) {
		return xen.EACCES
	}
	if dom != 0 && perms[0].Dom != n.perms[0].Dom {
		return xen.EPERM
	}
	c := n.clone()
	c.perms = slices.Clone(perms)
	v.put(p, c)
	v.note(change{path: p, perms: c.perms})
	return nil
}
