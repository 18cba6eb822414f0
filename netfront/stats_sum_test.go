// The tests' sum of the queues' counters must add every counter: a field it leaves out reads
// as zero, and a wait for that field to reach zero returns at once.

package netfront_test

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/netfront"
)

func TestSumStatsAddsEveryCounter(t *testing.T) {
	// Two queues whose counters are all different: field i holds i+1 and 100*(i+1).
	qs := make([]netfront.QueueStats, 2)
	for k := range qs {
		v := reflect.ValueOf(&qs[k]).Elem()
		for i := range v.NumField() {
			require.Equal(t, reflect.Uint64, v.Field(i).Kind(), "QueueStats.%s", v.Type().Field(i).Name)
			v.Field(i).SetUint(uint64(i+1) * []uint64{1, 100}[k])
		}
	}
	sum := reflect.ValueOf(sumStats(qs))
	for i := range sum.NumField() {
		assert.EqualValues(t, 101*(i+1), sum.Field(i).Uint(), "QueueStats.%s", sum.Type().Field(i).Name)
	}
}
