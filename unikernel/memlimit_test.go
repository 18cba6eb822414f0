package unikernel

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMemoryLimit(t *testing.T) {
	const MiB = 1 << 20
	tests := []struct {
		name string
		heap uint64
		ms   runtime.MemStats
		want int64
	}{
		// httpd at memory = 24, as measured: one 4 MiB arena, 3.6 MiB beside it.
		{"memory 24", 4 * MiB, runtime.MemStats{Sys: 7883000, HeapSys: 3932160, StackSys: 294912}, 4*MiB + (7883000 - 3932160 - 294912) - MiB},
		{"nothing beside the arenas", 8 * MiB, runtime.MemStats{Sys: 5 * MiB, HeapSys: 4 * MiB, StackSys: MiB}, 7 * MiB},
		{"statistics that do not add up count nothing beside", 4 * MiB, runtime.MemStats{Sys: MiB, HeapSys: 4 * MiB}, 3 * MiB},
		{"a 36 MiB heap", 36 * MiB, runtime.MemStats{Sys: 9 * MiB, HeapSys: 4 * MiB, StackSys: MiB / 2}, 36*MiB + 4*MiB + MiB/2 - MiB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := memoryLimit(tt.heap, &tt.ms)
			assert.Equal(t, tt.want, got)
			assert.Greater(t, got, int64(tt.heap)-2*MiB, "never below the heap's room less 1 MiB")
		})
	}
}
