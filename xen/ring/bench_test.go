// Benchmark and allocation guard for a full request/response round over the ring.

package ring

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
)

// roundTrip pushes batch requests through the ring and back, as a front and back end would.
func roundTrip(f *Front, b *Back, batch int, buf []byte) {
	for i := range batch {
		s, _ := f.NextRequest()
		binary.LittleEndian.PutUint32(s, uint32(i))
	}
	f.PushRequestsAndCheckNotify()
	for {
		ok, _ := b.ConsumeRequest(buf)
		if !ok {
			break
		}
		s, _ := b.NextResponse()
		copy(s, buf)
	}
	b.FinalCheckForRequests()
	b.PushResponsesAndCheckNotify()
	for {
		ok, _ := f.ConsumeResponse(buf)
		if !ok {
			break
		}
	}
	f.FinalCheckForResponses()
}

func newPair(tb testing.TB, slot int) (*Front, *Back) {
	page := make([]byte, xen.PageSize)
	f, err := NewFront(page, slot)
	require.NoError(tb, err)
	b, err := NewBack(page, slot)
	require.NoError(tb, err)
	return f, b
}

func TestNoAllocs(t *testing.T) {
	f, b := newPair(t, 12)
	buf := make([]byte, 12)
	allocs := testing.AllocsPerRun(1000, func() { roundTrip(f, b, 64, buf) })
	require.Zero(t, allocs)
	require.NoError(t, f.Err())
}

func BenchmarkRoundTrip(b *testing.B) {
	for _, batch := range []int{1, 32, 256} {
		b.Run("batch="+itoa(batch), func(b *testing.B) {
			f, bk := newPair(b, 12)
			buf := make([]byte, 12)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				roundTrip(f, bk, batch, buf)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/entry")
		})
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
