package netstack

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGSOSizesBuckets(t *testing.T) {
	for _, tc := range []struct {
		size   int
		bucket string
	}{
		{1, "8k"}, {8 << 10, "8k"}, {8<<10 + 1, "16k"}, {16 << 10, "16k"}, {30000, "32k"},
		{48 << 10, "48k"}, {50000, "60k"}, {60 << 10, "60k"}, {60<<10 + 1, "64k"}, {65535, "64k"}, {1 << 20, "64k"},
	} {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			var h gsoSizes
			h.observe(tc.size)
			var b bytes.Buffer
			mw := &metricWriter{w: &b}
			h.write(mw)
			require.NoError(t, mw.err)
			assert.Contains(t, b.String(), `tamaxen_netstack_tx_gso_by_size_total{size="`+tc.bucket+`"} 1`+"\n")
			assert.Equal(t, 5, bytes.Count(b.Bytes(), []byte("} 0\n")), "one bucket counted, the others not")
		})
	}
}

func TestGSOSizesObserveDoesNotAllocate(t *testing.T) {
	var h gsoSizes
	assert.Zero(t, testing.AllocsPerRun(100, func() { h.observe(40000) }))
}
