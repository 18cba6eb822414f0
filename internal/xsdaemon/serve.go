// A connection's request loop.

package xsdaemon

import (
	"encoding/binary"
	"errors"
	"io"

	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// ErrPayloadTooBig means a request claimed more than XENSTORE_PAYLOAD_MAX bytes of payload;
// xenstored drops a connection that does so.
var ErrPayloadTooBig = errors.New("xsdaemon: request payload over XENSTORE_PAYLOAD_MAX")

// Serve runs one connection: it writes out's messages to rw as they are queued, and hands
// every request read from rw to handle, in order, until reading fails or a request breaks the
// payload limit (ErrPayloadTooBig). Any message type is handed on: answering an unknown one is
// the daemon's business. When Serve returns, out is closed and its writer has stopped.
func Serve(rw io.ReadWriter, out *Outbox, handle func(h xenstore.Header, payload []byte)) error {
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		out.Run(rw)
	}()
	defer func() {
		out.Close()
		<-writerDone
	}()
	var hdr [xenstore.SockmsgSize]byte
	for {
		if _, err := io.ReadFull(rw, hdr[:]); err != nil {
			return err
		}
		h := xenstore.Header{
			Type:  xenstore.MsgType(binary.LittleEndian.Uint32(hdr[xenstore.SockmsgOffType:])),
			ReqID: binary.LittleEndian.Uint32(hdr[xenstore.SockmsgOffReqID:]),
			TxID:  binary.LittleEndian.Uint32(hdr[xenstore.SockmsgOffTxID:]),
			Len:   binary.LittleEndian.Uint32(hdr[xenstore.SockmsgOffLen:]),
		}
		if h.Len > xenstore.XENSTORE_PAYLOAD_MAX {
			return ErrPayloadTooBig
		}
		payload := make([]byte, h.Len)
		if _, err := io.ReadFull(rw, payload); err != nil {
			return err
		}
		handle(h, payload)
	}
}
