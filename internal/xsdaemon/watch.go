// A connection's watches and the path arithmetic of the node tree.

package xsdaemon

import (
	"strings"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// Watch is one registered watch: the path as the client gave it (events name paths the same
// way, relative or absolute), its absolute form, and the client's token.
type Watch struct {
	Path, Abs, Token string
}

// Watches is a connection's watch list.
type Watches []Watch

// Apply carries out XS_WATCH (t) or XS_UNWATCH for w. A watch is identified by its absolute
// path and token: registering it twice is EEXIST, removing an unknown one ENOENT.
func (ws *Watches) Apply(t xenstore.MsgType, w Watch) error {
	i := -1
	for j, x := range *ws {
		if x.Abs == w.Abs && x.Token == w.Token {
			i = j
		}
	}
	if t == xenstore.XS_WATCH {
		if i >= 0 {
			return xen.EEXIST
		}
		*ws = append(*ws, w)
		return nil
	}
	if i < 0 {
		return xen.ENOENT
	}
	*ws = append((*ws)[:i], (*ws)[i+1:]...)
	return nil
}

// Parent is the absolute path p's parent ("/" for a top-level node and for "/").
func Parent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// Base is the last element of the absolute path p.
func Base(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// IsBelow reports whether p is q or a node below it.
func IsBelow(p, q string) bool {
	return p == q || q == "/" || strings.HasPrefix(p, q+"/")
}

// Event reports whether a change of the node at the absolute path changed fires w, and the
// path the event names, as xenstored fires: a change of the watched node or any node below it
// names the changed node; a removal (recurse) above the watched node names the watch's own
// path; a special path (@introduceDomain, @releaseDomain) fires only a watch on that path.
// Paths of a watch registered relative are reported relative to home, the connection's
// /local/domain/<domid>.
func (w Watch) Event(changed string, recurse bool, home string) (string, bool) {
	switch {
	case strings.HasPrefix(changed, "@"):
		if changed != w.Abs {
			return "", false
		}
		return w.Path, true
	case IsBelow(changed, w.Abs):
		if strings.HasPrefix(w.Path, "/") || strings.HasPrefix(w.Path, "@") {
			return changed, true
		}
		return strings.TrimPrefix(changed, home+"/"), true
	case recurse && IsBelow(w.Abs, changed):
		return w.Path, true
	}
	return "", false
}
