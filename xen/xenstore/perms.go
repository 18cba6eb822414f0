// Node permissions as XS_GET_PERMS and XS_SET_PERMS carry them ("b0", "r5", ...).

package xenstore

import (
	"fmt"
	"strconv"

	"github.com/tamaxen/tamaxen/xen"
)

// Access is the access a permission entry grants; the byte is the letter on the wire
// (XS_PERM_NONE, XS_PERM_READ, XS_PERM_WRITE and both, in xenstore's xs_lib.h).
type Access byte

// Access letters.
const (
	AccessNone  Access = 'n'
	AccessRead  Access = 'r'
	AccessWrite Access = 'w'
	AccessBoth  Access = 'b'
)

func (a Access) valid() bool {
	return a == AccessNone || a == AccessRead || a == AccessWrite || a == AccessBoth
}

// Perm is one entry of a node's permission list. The first entry of a list names the node's
// owner, who always has full access, and its Access is what every domain not listed later gets.
type Perm struct {
	Dom    xen.DomID
	Access Access
}

// String is the wire form: the access letter followed by the domain id in decimal.
func (p Perm) String() string {
	return string(rune(p.Access)) + strconv.FormatUint(uint64(p.Dom), 10)
}

// ParsePerm parses the wire form of a permission entry.
func ParsePerm(s string) (Perm, error) {
	if len(s) < 2 || !Access(s[0]).valid() {
		return Perm{}, fmt.Errorf("xenstore: bad permission %q", s)
	}
	// Only plain decimal digits: ParseUint alone would also take a sign or "0x" prefix.
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return Perm{}, fmt.Errorf("xenstore: bad permission %q", s)
		}
	}
	d, err := strconv.ParseUint(s[1:], 10, 16)
	if err != nil {
		return Perm{}, fmt.Errorf("xenstore: bad permission %q", s)
	}
	return Perm{Dom: xen.DomID(d), Access: Access(s[0])}, nil
}

// parsePermList decodes an XS_GET_PERMS reply. A node always has an owner, so an empty list is
// as malformed as a bad entry.
func parsePermList(b []byte) ([]Perm, error) {
	parts, err := splitStrings(b)
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("empty permission list")
	}
	perms := make([]Perm, len(parts))
	for i, s := range parts {
		if perms[i], err = ParsePerm(s); err != nil {
			return nil, err
		}
	}
	return perms, nil
}

// appendPerms appends the XS_SET_PERMS encoding of perms: each entry NUL-terminated.
func appendPerms(dst []byte, perms []Perm) ([]byte, error) {
	if len(perms) == 0 {
		return nil, fmt.Errorf("xenstore: empty permission list")
	}
	for _, p := range perms {
		if !p.Access.valid() {
			return nil, fmt.Errorf("xenstore: bad access %q", rune(p.Access))
		}
		dst = append(dst, p.String()...)
		dst = append(dst, 0)
	}
	return dst, nil
}
