package netif

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRoundTrips(t *testing.T) {
	b := make([]byte, 16)

	tx := TxRequest{Gref: 0xdeadbeef, Offset: 4000, Flags: NETTXF_more_data | NETTXF_csum_blank, ID: 255, Size: 0xffff}
	tx.Encode(b)
	var tx2 TxRequest
	tx2.Decode(b)
	assert.Equal(t, tx, tx2)
	assert.Equal(t, []byte{0xef, 0xbe, 0xad, 0xde, 0xa0, 0x0f, 5, 0, 255, 0, 0xff, 0xff}, b[:12], "netif_tx_request layout")

	txr := TxResponse{ID: 7, Status: NETIF_RSP_DROPPED}
	txr.Encode(b)
	var txr2 TxResponse
	txr2.Decode(b)
	assert.Equal(t, txr, txr2)

	rx := RxRequest{ID: 3, Gref: 99}
	rx.Encode(b)
	var rx2 RxRequest
	rx2.Decode(b)
	assert.Equal(t, rx, rx2)
	assert.Equal(t, []byte{3, 0, 0, 0, 99, 0, 0, 0}, b[:8], "netif_rx_request layout")

	rxr := RxResponse{ID: 9, Offset: 2, Flags: NETRXF_more_data, Status: 1514}
	rxr.Encode(b)
	var rxr2 RxResponse
	rxr2.Decode(b)
	assert.Equal(t, rxr, rxr2)

	e := ExtraInfo{Type: XEN_NETIF_EXTRA_TYPE_GSO, Flags: XEN_NETIF_EXTRA_FLAG_MORE, GSOSize: 1448, GSOType: XEN_NETIF_GSO_TYPE_TCPV6}
	e.Encode(b)
	var e2 ExtraInfo
	e2.Decode(b)
	assert.Equal(t, e, e2)
	assert.True(t, e2.More())
}

func TestRxFlagsSwapTxBits(t *testing.T) {
	// The trap this package documents: same meaning, other bit.
	assert.Equal(t, NETTXF_csum_blank, NETRXF_data_validated)
	assert.Equal(t, NETTXF_data_validated, NETRXF_csum_blank)
}
