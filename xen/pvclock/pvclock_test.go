package pvclock

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

// page returns a page-aligned shared_info-sized buffer.
func page() []byte { return shmem.Pages(1) }

func TestScale(t *testing.T) {
	tests := []struct {
		name  string
		delta uint64
		mul   uint32
		shift int8
		want  uint64
	}{
		{"1 GHz is mul 2^31 shift 1", 1_000_000_000, 1 << 31, 1, 1_000_000_000},
		{"2 GHz halves", 2_000_000_000, 1 << 31, 0, 1_000_000_000},
		{"negative shift", 4_000_000_000, 1 << 31, -1, 1_000_000_000},
		{"zero delta", 0, 0xffffffff, 3, 0},
		{"large delta does not overflow", 1 << 62, 1 << 31, 1, 1 << 62},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Scale(tt.delta, tt.mul, tt.shift))
		})
	}
}

func setTime(p []byte, vcpu int, version uint32, stamp, sys uint64, mul uint32, shift int8) {
	t := p[vcpu*xen.SizeofVcpuInfo+VcpuTimeOff:]
	binary.LittleEndian.PutUint32(t[TimeVersion:], version)
	binary.LittleEndian.PutUint64(t[TimeTSCTimestamp:], stamp)
	binary.LittleEndian.PutUint64(t[TimeSystemTime:], sys)
	binary.LittleEndian.PutUint32(t[TimeTSCToSysMul:], mul)
	t[TimeTSCShift] = byte(shift)
}

func TestSystemTime(t *testing.T) {
	p := page()
	setTime(p, 0, 2, 1000, 5_000_000_000, 1<<31, 1) // 1 GHz
	setTime(p, 1, 4, 0, 7, 1<<31, 1)
	tsc := func() uint64 { return 1000 + 200_000_000 }
	assert.Equal(t, uint64(5_200_000_000), SystemTime(p, 0, tsc))
	assert.Equal(t, uint64(7+1200_000_000/1), SystemTime(p, 1, func() uint64 { return 1_200_000_000 }))
}

// A TSC read just before Xen's stamp gives the stamp's time, not a wrapped delta.
func TestSystemTimeTSCBehindStamp(t *testing.T) {
	p := page()
	setTime(p, 0, 2, 1000, 5_000_000_000, 1<<31, 1)
	assert.Equal(t, uint64(5_000_000_000), SystemTime(p, 0, func() uint64 { return 999 }))
}

func TestSystemTimeRetriesOddVersion(t *testing.T) {
	p := page()
	setTime(p, 0, 1, 0, 0, 1<<31, 1) // Xen is mid-update
	done := make(chan uint64)
	go func() { done <- SystemTime(p, 0, fixedTSC) }()
	// Finish the update as Xen would: fields first, then an even version.
	ti := p[VcpuTimeOff:]
	shmem.Store64(ti, TimeSystemTime, 100)
	shmem.Store32(ti, TimeVersion, 2)
	assert.Equal(t, uint64(142), <-done)
}

func TestWallclock(t *testing.T) {
	p := page()
	binary.LittleEndian.PutUint32(p[WcVersion:], 6)
	binary.LittleEndian.PutUint32(p[WcSec:], 0x12345678)
	binary.LittleEndian.PutUint32(p[WcSecHi:], 1)
	binary.LittleEndian.PutUint32(p[WcNsec:], 999)
	sec, nsec := Wallclock(p)
	assert.Equal(t, uint64(1<<32|0x12345678), sec)
	assert.Equal(t, uint32(999), nsec)
}

func TestSystemTimeDoesNotAllocate(t *testing.T) {
	p := page()
	setTime(p, 0, 2, 0, 0, 1<<31, 1)
	n := testing.AllocsPerRun(100, func() { _ = SystemTime(p, 0, fixedTSC) })
	require.Zero(t, n)
}

func fixedTSC() uint64 { return 42 }
