// The node operations (XS_READ, XS_WRITE, XS_MKDIR, XS_RM, XS_DIRECTORY, XS_*_PERMS).

package xenstore

import (
	"context"
	"strings"

	"github.com/tamaxen/tamaxen/xen"
)

// Ops are the node operations, available both outside a transaction (*Client) and inside one
// (*Tx), so helpers can be written once for either.
//
// A path starting with '/' is absolute; any other path is relative to the domain's home,
// /local/domain/<domid>, which the daemon resolves. Paths are limited to
// XENSTORE_ABS_PATH_MAX and XENSTORE_REL_PATH_MAX bytes and may not contain NUL.
type Ops interface {
	// Read returns the value of a node (XS_READ).
	Read(ctx context.Context, path string) ([]byte, error)
	// Write sets the value of a node, creating it and missing parents (XS_WRITE).
	Write(ctx context.Context, path string, value []byte) error
	// Mkdir creates a node with an empty value; an existing node is left alone (XS_MKDIR).
	Mkdir(ctx context.Context, path string) error
	// Rm removes a node and everything below it (XS_RM).
	Rm(ctx context.Context, path string) error
	// Directory lists the names of a node's children (XS_DIRECTORY).
	Directory(ctx context.Context, path string) ([]string, error)
	// GetPerms returns a node's permission list, owner first (XS_GET_PERMS).
	GetPerms(ctx context.Context, path string) ([]Perm, error)
	// SetPerms replaces a node's permission list, owner first (XS_SET_PERMS).
	SetPerms(ctx context.Context, path string, perms []Perm) error
}

var (
	_ Ops = (*Client)(nil)
	_ Ops = (*Tx)(nil)
)

// checkPath refuses paths the daemon would reject, and NUL bytes, which would end the path
// early on the wire and turn the rest into a different request.
func checkPath(op MsgType, path string) error {
	limit := XENSTORE_REL_PATH_MAX
	if strings.HasPrefix(path, "/") {
		limit = XENSTORE_ABS_PATH_MAX
	}
	if path == "" || len(path) > limit || strings.IndexByte(path, 0) >= 0 {
		return refuse(op, path, xen.EINVAL)
	}
	return nil
}

// cstr is a string with its NUL terminator, as the payload strings are sent.
func cstr(s string) []byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}

func (c *Client) pathOp(ctx context.Context, op MsgType, txID uint32, path string, extra ...[]byte) (reply, error) {
	if err := checkPath(op, path); err != nil {
		return reply{}, err
	}
	return c.roundTrip(ctx, op, txID, path, append([][]byte{cstr(path)}, extra...)...)
}

func (c *Client) read(ctx context.Context, txID uint32, path string) ([]byte, error) {
	r, err := c.pathOp(ctx, XS_READ, txID, path)
	return r.value, err
}

// write sends the value without a terminator: XS_WRITE values are byte strings whose length
// comes from the header, and a NUL would become part of the value.
func (c *Client) write(ctx context.Context, txID uint32, path string, value []byte) error {
	_, err := c.pathOp(ctx, XS_WRITE, txID, path, value)
	return err
}

func (c *Client) mkdir(ctx context.Context, txID uint32, path string) error {
	_, err := c.pathOp(ctx, XS_MKDIR, txID, path)
	return err
}

func (c *Client) rm(ctx context.Context, txID uint32, path string) error {
	_, err := c.pathOp(ctx, XS_RM, txID, path)
	return err
}

func (c *Client) directory(ctx context.Context, txID uint32, path string) ([]string, error) {
	r, err := c.pathOp(ctx, XS_DIRECTORY, txID, path)
	return r.list, err
}

func (c *Client) getPerms(ctx context.Context, txID uint32, path string) ([]Perm, error) {
	r, err := c.pathOp(ctx, XS_GET_PERMS, txID, path)
	return r.perms, err
}

func (c *Client) setPerms(ctx context.Context, txID uint32, path string, perms []Perm) error {
	enc, err := appendPerms(nil, perms)
	if err != nil {
		return refuse(XS_SET_PERMS, path, xen.EINVAL)
	}
	_, err = c.pathOp(ctx, XS_SET_PERMS, txID, path, enc)
	return err
}

// Read returns the value of a node (XS_READ).
func (c *Client) Read(ctx context.Context, path string) ([]byte, error) {
	return c.read(ctx, 0, path)
}

// Write sets the value of a node, creating it and missing parents (XS_WRITE).
func (c *Client) Write(ctx context.Context, path string, value []byte) error {
	return c.write(ctx, 0, path, value)
}

// Mkdir creates a node with an empty value; an existing node is left alone (XS_MKDIR).
func (c *Client) Mkdir(ctx context.Context, path string) error { return c.mkdir(ctx, 0, path) }

// Rm removes a node and everything below it (XS_RM).
func (c *Client) Rm(ctx context.Context, path string) error { return c.rm(ctx, 0, path) }

// Directory lists the names of a node's children (XS_DIRECTORY).
func (c *Client) Directory(ctx context.Context, path string) ([]string, error) {
	return c.directory(ctx, 0, path)
}

// GetPerms returns a node's permission list, owner first (XS_GET_PERMS).
func (c *Client) GetPerms(ctx context.Context, path string) ([]Perm, error) {
	return c.getPerms(ctx, 0, path)
}

// SetPerms replaces a node's permission list, owner first (XS_SET_PERMS).
func (c *Client) SetPerms(ctx context.Context, path string, perms []Perm) error {
	return c.setPerms(ctx, 0, path, perms)
}
