// Typed reads of the small text values XenStore keeps, and the guest's own identity.

package xenstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/tamaxen/tamaxen/xen"
)

// ReadString reads a node whose value is text. Values are stored without a terminator, but some
// writers include one; a single trailing NUL is dropped so both read the same.
func ReadString(ctx context.Context, s Ops, path string) (string, error) {
	v, err := s.Read(ctx, path)
	if err != nil {
		return "", err
	}
	return string(trimNUL(v)), nil
}

// WriteString writes a text value, without a terminator, as the toolstack does.
func WriteString(ctx context.Context, s Ops, path, value string) error {
	return s.Write(ctx, path, []byte(value))
}

// ReadUint reads a node holding an unsigned decimal number that fits in bits bits. A value that
// is not one is reported with EINVAL, since it was written by another domain and may be
// anything.
func ReadUint(ctx context.Context, s Ops, path string, bits int) (uint64, error) {
	v, err := ReadString(ctx, s, path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(v, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("xenstore: %s: value %q is not a %d-bit decimal: %w", path, truncate([]byte(v)), bits, xen.EINVAL)
	}
	return n, nil
}

// Identity is what the toolstack tells a guest about itself in its home directory.
type Identity struct {
	DomID xen.DomID // from "domid"
	Name  string    // from "name", the name the domain was created with
}

// Identify reads the guest's domid and name from its home directory, /local/domain/<domid>,
// with relative paths: the guest does not know its domid before it has read it.
func Identify(ctx context.Context, s Ops) (Identity, error) {
	id, err := ReadUint(ctx, s, "domid", 16)
	if err != nil {
		return Identity{}, err
	}
	name, err := ReadString(ctx, s, "name")
	if err != nil {
		return Identity{}, err
	}
	return Identity{DomID: xen.DomID(id), Name: name}, nil
}
