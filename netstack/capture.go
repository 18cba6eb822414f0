// Capture of the frames crossing netfront, for tshark and Wireshark.

package netstack

import (
	"sync"
	"time"

	"github.com/tamaxen/tamaxen/netfront"
	"github.com/tamaxen/tamaxen/netfront/pcap"
)

// captureBuf flattens outgoing frames for the capture; only used while capturing.
var captureBuf = sync.Pool{New: func() any { b := make([]byte, 0, 1<<16); return &b }}

func (e *Endpoint) captureOut(w *pcap.Writer, parts [][]byte, m netfront.TxMeta) {
	bp := captureBuf.Get().(*[]byte)
	b := (*bp)[:0]
	for _, p := range parts {
		b = append(b, p...)
	}
	_ = w.WritePacket(time.Now(), pcap.Outbound, b, pcap.Meta{
		CsumBlank: m.CsumBlank, DataValidated: m.DataValidated, GSOType: m.GSOType, GSOSize: m.GSOSize,
	})
	*bp = b
	captureBuf.Put(bp)
}

func (e *Endpoint) captureIn(w *pcap.Writer, frame []byte, m netfront.RxMeta) {
	_ = w.WritePacket(time.Now(), pcap.Inbound, frame, pcap.Meta{
		Queue: m.Queue, CsumBlank: m.CsumBlank, DataValidated: m.DataValidated, GSOType: m.GSOType, GSOSize: m.GSOSize,
	})
}
