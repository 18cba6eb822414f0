// The node tree, paths and xenstored's permission rules.

package xenstored

import (
	"slices"
	"strings"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// node is one entry of the store. Nodes are copied on write (a transaction holds its own
// copies until commit), so a *node reachable from Store.nodes is never modified in place.
type node struct {
	value    []byte
	perms    []xenstore.Perm
	children []string // sorted names
	gen      uint64   // Store.gen when the node was last written
}

func (n *node) clone() *node {
	c := *n
	c.perms = slices.Clone(n.perms)
	c.children = slices.Clone(n.children)
	return &c
}

func (n *node) addChild(name string) {
	if i, found := slices.BinarySearch(n.children, name); !found {
		n.children = slices.Insert(n.children, i, name)
	}
}

func (n *node) removeChild(name string) {
	if i, found := slices.BinarySearch(n.children, name); found {
		n.children = slices.Delete(n.children, i, i+1)
	}
}

// validChars are the characters xenstored accepts in a path (is_valid_nodename).
const validChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/_@"

// canonical turns a request path into an absolute one for a connection of domain dom, refusing
// what xenstored refuses; special (@...) paths only where allowSpecial (watches).
func canonical(dom xen.DomID, p string, allowSpecial bool) (string, error) {
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
		strings.Contains(p, "//") || (len(p) > 1 && strings.HasSuffix(p, "/")) ||
		strings.ContainsRune(p, '@') {
		return "", xen.EINVAL
	}
	if !strings.HasPrefix(p, "/") {
		p = homePath(dom) + "/" + p
	}
	return p, nil
}

// access is xenstored's perm_for_conn: privileged domains (dom0 here) and the node's owner
// (the first entry) get everything; otherwise the entry naming the domain, or the first
// entry's access as the default for everyone else.
func access(dom xen.DomID, perms []xenstore.Perm) (read, write bool) {
	if dom == 0 || (len(perms) > 0 && perms[0].Dom == dom) {
		return true, true
	}
	if len(perms) == 0 {
		return false, false
	}
	a := perms[0].Access
	for _, p := range perms[1:] {
		if p.Dom == dom {
			a = p.Access
			break
		}
	}
	return a == xenstore.AccessRead || a == xenstore.AccessBoth, a == xenstore.AccessWrite || a == xenstore.AccessBoth
}

func canRead(dom xen.DomID, perms []xenstore.Perm) bool  { r, _ := access(dom, perms); return r }
func canWrite(dom xen.DomID, perms []xenstore.Perm) bool { _, w := access(dom, perms); return w }
