package netstack_test

import (
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/netfront"
)

// The TSO frames on /metrics by size add up to the TSO frames the endpoint sent.
func TestTxGSOBySizeAddsUp(t *testing.T) {
	r := newRig(t, "ip=10.0.0.2/24", nil, netfront.Config{})
	l, err := r.guest.Listen("tcp", ":80")
	require.NoError(t, err)
	serveHTTP(t, l)
	resp, err := r.client(netip.MustParseAddrPort("10.0.0.2:80")).Get(fmt.Sprintf("http://guest/download?bytes=%d", 2<<20))
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.NoError(t, err)

	var m strings.Builder
	require.NoError(t, r.guest.WriteMetrics(&m))
	sent := r.guest.Endpoint().Stats().TxGSO
	var bySize uint64
	for _, s := range regexp.MustCompile(`(?m)^tamaxen_netstack_tx_gso_by_size_total\{size="\w+"\} (\d+)$`).FindAllStringSubmatch(m.String(), -1) {
		n, err := strconv.ParseUint(s[1], 10, 64)
		require.NoError(t, err)
		bySize += n
	}
	require.NotZero(t, sent, "no TSO frame sent")
	// Read after the metrics: a late frame may only make sent larger.
	assert.LessOrEqual(t, bySize, sent)
	assert.InDelta(t, float64(sent), float64(bySize), 2, "TSO frames by size %d, TSO frames %d", bySize, sent)
}
