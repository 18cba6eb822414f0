// Table tests of the wire layout, header validation and the payload parsers.

package xenstore

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
)

func TestLayoutConstants(t *testing.T) {
	// Values from io/xs_wire.h; the C conformance test checks the same against the header.
	assert.Equal(t, 16, SockmsgSize)
	assert.Equal(t, 4096, XENSTORE_PAYLOAD_MAX)
	assert.Equal(t, 3072, XENSTORE_ABS_PATH_MAX)
	assert.Equal(t, 2048, XENSTORE_REL_PATH_MAX)
	assert.Equal(t, 1024, XENSTORE_RING_SIZE)
	assert.Equal(t, 2076, InterfaceSize)
	assert.Equal(t, InterfaceOffError+4, InterfaceSize)
	assert.EqualValues(t, 21, XS_RESET_WATCHES)
	assert.EqualValues(t, 23, XS_TYPE_COUNT)
	assert.EqualValues(t, 0xffff, XS_INVALID)
	assert.EqualValues(t, 0x3ff, RingOffset(0xffffffff))
}

func TestMsgType(t *testing.T) {
	for typ := MsgType(0); typ < XS_TYPE_COUNT; typ++ {
		if typ == 20 {
			assert.False(t, typ.Valid(), "XS_RESTRICT was removed")
			assert.Equal(t, "XS_20", typ.String())
			continue
		}
		assert.True(t, typ.Valid(), "%d", typ)
		assert.Regexp(t, "^XS_[A-Z_]+$", typ.String())
	}
	assert.Equal(t, "XS_TRANSACTION_START", XS_TRANSACTION_START.String())
	assert.Equal(t, XS_CONTROL, XS_DEBUG)
	assert.False(t, XS_TYPE_COUNT.Valid())
	assert.False(t, XS_INVALID.Valid())
}

func TestHeader(t *testing.T) {
	h := Header{Type: XS_WRITE, ReqID: 0xdeadbeef, TxID: 7, Len: 4096}
	var b [SockmsgSize]byte
	h.Encode(b[:])
	assert.Equal(t, []byte{11, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde, 7, 0, 0, 0, 0, 0x10, 0, 0}, b[:])
	got, err := DecodeHeader(b[:])
	require.NoError(t, err)
	assert.Equal(t, h, got)

	for name, mut := range map[string]func(*Header){
		"oversized":   func(h *Header) { h.Len = XENSTORE_PAYLOAD_MAX + 1 },
		"huge":        func(h *Header) { h.Len = 0xffffffff },
		"restrict":    func(h *Header) { h.Type = 20 },
		"count":       func(h *Header) { h.Type = XS_TYPE_COUNT },
		"invalid":     func(h *Header) { h.Type = XS_INVALID },
		"top bit set": func(h *Header) { h.Type = 0x80000002 },
	} {
		bad := h
		mut(&bad)
		bad.Encode(b[:])
		_, err := DecodeHeader(b[:])
		assert.Error(t, err, name)
	}
	_, err = DecodeHeader(b[:15])
	assert.Error(t, err)
}

func TestSplitStrings(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{"a\x00", []string{"a"}, true},
		{"a\x00bc\x00", []string{"a", "bc"}, true},
		{"\x00", nil, false},
		{"a", nil, false},
		{"a\x00b", nil, false},
		{"a\x00\x00", nil, false},
		{"\x00a\x00", nil, false},
	} {
		got, err := splitStrings([]byte(tc.in))
		if !tc.ok {
			assert.Error(t, err, "%q", tc.in)
			continue
		}
		require.NoError(t, err, "%q", tc.in)
		assert.Equal(t, tc.want, got, "%q", tc.in)
	}
}

func TestDecodeReply(t *testing.T) {
	for _, tc := range []struct {
		op, typ MsgType
		payload string
		ok      bool
		check   func(t *testing.T, r reply)
	}{
		{XS_READ, XS_READ, "", true, func(t *testing.T, r reply) { assert.Empty(t, r.value) }},
		{XS_READ, XS_READ, "v\x00w", true, func(t *testing.T, r reply) { assert.Equal(t, "v\x00w", string(r.value)) }},
		{XS_WRITE, XS_WRITE, "OK\x00", true, nil},
		{XS_WRITE, XS_WRITE, "OK", true, nil},
		{XS_WRITE, XS_WRITE, "OK\x00\x00", false, nil},
		{XS_WRITE, XS_WRITE, "ok\x00", false, nil},
		{XS_WRITE, XS_READ, "OK\x00", false, nil},
		{XS_WATCH, XS_WATCH_EVENT, "a\x00b\x00", false, nil},
		{XS_TRANSACTION_START, XS_TRANSACTION_START, "4294967295\x00", true,
			func(t *testing.T, r reply) { assert.EqualValues(t, 0xffffffff, r.txID) }},
		{XS_TRANSACTION_START, XS_TRANSACTION_START, "-1\x00", false, nil},
		{XS_TRANSACTION_START, XS_TRANSACTION_START, "", false, nil},
		{XS_GET_PERMS, XS_GET_PERMS, "n0\x00b65535\x00w1\x00r2\x00", true, func(t *testing.T, r reply) {
			assert.Equal(t, []Perm{{0, AccessNone}, {65535, AccessBoth}, {1, AccessWrite}, {2, AccessRead}}, r.perms)
		}},
		{XS_GET_PERMS, XS_GET_PERMS, "b\x00", false, nil},
		{XS_GET_PERMS, XS_GET_PERMS, "b-1\x00", false, nil},
		{XS_GET_PERMS, XS_GET_PERMS, "b0x1\x00", false, nil},
		{XS_READ, XS_ERROR, "ENOENT\x00", true, func(t *testing.T, r reply) { assert.Equal(t, "ENOENT", r.errName) }},
		{XS_READ, XS_ERROR, "ENOENT", true, nil},
		{XS_READ, XS_ERROR, "", false, nil},
		{XS_READ, XS_ERROR, "\x00", false, nil},
		{XS_READ, XS_ERROR, "EN\x00OENT\x00", false, nil},
	} {
		r, err := decodeReply(tc.op, tc.typ, []byte(tc.payload))
		if !tc.ok {
			assert.Error(t, err, "%v/%v %q", tc.op, tc.typ, tc.payload)
			continue
		}
		require.NoError(t, err, "%v/%v %q", tc.op, tc.typ, tc.payload)
		if tc.check != nil {
			tc.check(t, r)
		}
	}
}

func TestErrorNames(t *testing.T) {
	// Every entry of xsd_errors maps to the errno of the same name.
	for name, errno := range xsdErrors {
		if name == "EQUOTA" {
			continue
		}
		assert.Equal(t, "xen: "+name, errno.Error())
		assert.Equal(t, errno, errnoFromName(name))
	}
	assert.Len(t, xsdErrors, 17)
	assert.Equal(t, xen.EINVAL, errnoFromName("EINVAL: reason"))
	assert.Equal(t, xen.EINVAL, errnoFromName("ENOTANERRNO"))
	assert.Equal(t, xen.ENOSPC, errnoFromName("EQUOTA"))

	e := &Error{Op: XS_READ, Path: "a", Name: "EQUOTA", Errno: xen.ENOSPC}
	assert.Equal(t, `xenstore: XS_READ a: "EQUOTA" (ENOSPC)`, e.Error())
	e = &Error{Op: XS_WRITE, Path: "a", Errno: xen.E2BIG}
	assert.Equal(t, "xenstore: XS_WRITE a: E2BIG", e.Error())
	assert.False(t, e.Temporary())
	assert.True(t, (&Error{Errno: xen.EAGAIN}).Temporary())
	assert.False(t, Temporary(xen.ErrBroken))
}

func TestPermString(t *testing.T) {
	for _, s := range []string{"n0", "r7", "w32752", "b65535"} {
		p, err := ParsePerm(s)
		require.NoError(t, err, s)
		assert.Equal(t, s, p.String())
	}
	for _, s := range []string{"", "b", "x1", "r65536", "r 1", "r+1", "R1"} {
		_, err := ParsePerm(s)
		assert.Error(t, err, s)
	}
}
