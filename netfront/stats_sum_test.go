// The tests' sum of the queues' counters must add every counter: a field it leaves out reads
// as zero, and a wait for that field to reach zero returns at once.

package netfront

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSumStatsAddsEveryCounter(t *testing.T) {
	// Two queues whose counters are all different: field i holds i+1 and 100*(i+1).
	qs := make([]QueueStats, 2)
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

// sumStats adds the queues' counters, every field of QueueStats (all of them uint64, as
// TestSumStatsAddsEveryCounter checks): a field left out would read as zero, and a wait for it
// to come down to zero would return at once.
func sumStats(s []QueueStats) (t QueueStats) {
	sum := reflect.ValueOf(&t).Elem()
	for _, q := range s {
		v := reflect.ValueOf(q)
		for i := range v.NumField() {
			sum.Field(i).SetUint(sum.Field(i).Uint() + v.Field(i).Uint())
		}
	}
	return t
}
