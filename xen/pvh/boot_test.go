package pvh

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bootBlob builds the copy the entry code makes of Xen's start info.
func bootBlob(magic uint32, version uint32, mm []MemmapEntry, cmdline string) []byte {
	b := make([]byte, BootInfoSize)
	le := binary.LittleEndian
	le.PutUint32(b, magic)
	le.PutUint32(b[OffsetofStartInfoVersion:], version)
	le.PutUint64(b[OffsetofStartInfoRsdpPaddr:], 0xfc000000)
	le.PutUint32(b[OffsetofStartInfoMemmapEntries:], uint32(len(mm)))
	for i, e := range mm {
		o := b[BootMemmapOff+i*SizeofMemmapEntry:]
		le.PutUint64(o, e.Addr)
		le.PutUint64(o[8:], e.Size)
		le.PutUint32(o[16:], e.Type)
	}
	copy(b[BootCmdlineOff:], cmdline)
	return b
}

// xlMemmap is the memory map Xen 4.17's libxl gives a PVH guest with `memory = mb`.
func xlMemmap(mb uint64) []MemmapEntry {
	return []MemmapEntry{
		{Addr: 0, Size: mb << 20, Type: XEN_HVM_MEMMAP_TYPE_RAM},
		{Addr: 0xfc000000, Size: 0x1000, Type: XEN_HVM_MEMMAP_TYPE_RESERVED},
		{Addr: 0xfc008000, Size: 0x1000, Type: 3},
	}
}

func TestParseBootInfo(t *testing.T) {
	mm := xlMemmap(64)
	si, err := ParseBootInfo(bootBlob(XEN_HVM_START_MAGIC_VALUE, 1, mm, "timeout=30s panic=0"), len(mm))
	require.NoError(t, err)
	assert.Equal(t, uint32(1), si.Version)
	assert.Equal(t, uint64(0xfc000000), si.RSDP)
	assert.Equal(t, mm, si.Memmap)
	assert.Equal(t, "timeout=30s panic=0", si.Cmdline)
}

func TestParseBootInfoErrors(t *testing.T) {
	_, err := ParseBootInfo(bootBlob(0x12345678, 1, nil, ""), 0)
	assert.ErrorIs(t, err, ErrNoStartInfo)
	_, err = ParseBootInfo(make([]byte, 10), 0)
	assert.Error(t, err)
	_, err = ParseBootInfo(bootBlob(XEN_HVM_START_MAGIC_VALUE, 1, nil, ""), MaxMemmap+1)
	assert.Error(t, err)
}

func TestParseBootInfoLongCmdline(t *testing.T) {
	long := make([]byte, MaxCmdline+100)
	for i := range long {
		long[i] = 'x'
	}
	b := bootBlob(XEN_HVM_START_MAGIC_VALUE, 1, nil, "")
	copy(b[BootCmdlineOff:], long[:MaxCmdline-1]) // the entry code copies at most MaxCmdline-1
	si, err := ParseBootInfo(b, 0)
	require.NoError(t, err)
	assert.Len(t, si.Cmdline, MaxCmdline-1)
}

func TestComputeLayout(t *testing.T) {
	const ramStart = 0x200000
	tests := []struct {
		name    string
		mm      []MemmapEntry
		dmaSize uint64
		wantErr bool
	}{
		{"32 MiB", xlMemmap(32), 3 << 20, false},
		{"64 MiB", xlMemmap(64), 7 << 20, false},
		{"1024 MiB caps the DMA region", xlMemmap(1024), DMAMax, false},
		{"16 MiB", xlMemmap(16), 1 << 20, false},
		{"too small", xlMemmap(8), 0, true},
		{"RAM not at the link address", []MemmapEntry{{Addr: 0x400000, Size: 64 << 20, Type: XEN_HVM_MEMMAP_TYPE_RAM}}, 0, true},
		{"only reserved", []MemmapEntry{{Addr: 0, Size: 64 << 20, Type: XEN_HVM_MEMMAP_TYPE_RESERVED}}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ComputeLayout(tt.mm, ramStart)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			end := tt.mm[0].End()
			assert.Equal(t, tt.dmaSize, l.DMASize)
			assert.Equal(t, uint64(ramStart), l.RAMStart)
			assert.Equal(t, end, l.RAMEnd)
			assert.Equal(t, l.RAMStart+l.RAMSize, l.DMAStart, "DMA region follows the runtime's RAM")
			assert.Equal(t, end, l.DMAStart+l.DMASize, "DMA region ends with RAM")
			assert.Zero(t, l.DMAStart%DMAAlign)
		})
	}
}

func TestTotalRAM(t *testing.T) {
	assert.Equal(t, uint64(32<<20), TotalRAM(xlMemmap(32)))
}

func TestCmdline(t *testing.T) {
	c := ParseCmdline("  timeout=30s panic ip=10.0.0.2/24 timeout=5s ")
	v, ok := c.Get("timeout")
	assert.True(t, ok)
	assert.Equal(t, "5s", v, "later words override")
	v, ok = c.Get("panic")
	assert.True(t, ok)
	assert.Empty(t, v)
	v, _ = c.Get("ip")
	assert.Equal(t, "10.0.0.2/24", v)
	_, ok = c.Get("gw")
	assert.False(t, ok)
	assert.Equal(t, "  timeout=30s panic ip=10.0.0.2/24 timeout=5s ", c.String())
}

// FuzzParseBootInfo fills the three regions of the boot copy that come from Xen (the start
// info header, the memory map, the command line) and may cut the copy short, so the fuzzer
// mutates a few hundred bytes rather than the whole 6 KiB copy. Oracles: nothing panics; a
// parse returns exactly count entries as written and the command line up to its first NUL;
// a layout, when one is found, splits one RAM entry into runtime memory and a DMA region that
// meet without overlap or overflow.
func FuzzParseBootInfo(f *testing.F) {
	seed := func(magic uint32, mm []MemmapEntry, cmdline string, count int, short uint16) {
		b := bootBlob(magic, 1, mm, cmdline)
		f.Add(b[:BootMemmapOff], b[BootMemmapOff:BootMemmapOff+len(mm)*SizeofMemmapEntry], []byte(cmdline), count, short)
	}
	seed(XEN_HVM_START_MAGIC_VALUE, xlMemmap(32), "timeout=1s", 3, 0)
	seed(XEN_HVM_START_MAGIC_VALUE, xlMemmap(8), "", 3, 0)
	seed(XEN_HVM_START_MAGIC_VALUE, []MemmapEntry{{Addr: 1 << 20, Size: 1<<64 - 1<<19, Type: 1}}, "ip=10.0.0.2/24", 1, 0)
	seed(XEN_HVM_START_MAGIC_VALUE, xlMemmap(64), "x", MaxMemmap, 0)
	seed(0x12345678, nil, "", 0, 100)
	f.Fuzz(func(t *testing.T, head, memmap, cmdline []byte, count int, short uint16) {
		b := make([]byte, BootInfoSize)
		copy(b[:BootMemmapOff], head)
		copy(b[BootMemmapOff:BootCmdlineOff], memmap)
		copy(b[BootCmdlineOff:], cmdline)
		if short != 0 {
			b = b[:int(short)%BootInfoSize]
		}
		si, err := ParseBootInfo(b, count)
		if err != nil {
			return
		}
		if len(si.Memmap) != count {
			t.Fatalf("%d entries parsed, %d copied", len(si.Memmap), count)
		}
		for i, e := range si.Memmap {
			o := b[BootMemmapOff+i*SizeofMemmapEntry:]
			le := binary.LittleEndian
			if e != (MemmapEntry{le.Uint64(o), le.Uint64(o[8:]), le.Uint32(o[16:])}) {
				t.Fatalf("entry %d is %+v", i, e)
			}
		}
		want := b[BootCmdlineOff:]
		for i, c := range want {
			if c == 0 {
				want = want[:i]
				break
			}
		}
		if si.Cmdline != string(want) {
			t.Fatalf("command line %q, want %q", si.Cmdline, want)
		}
		const ramStart = 0x200000
		if l, err := ComputeLayout(si.Memmap, ramStart); err == nil {
			switch {
			case l.RAMStart != ramStart, l.RAMStart+l.RAMSize != l.DMAStart,
				l.DMAStart+l.DMASize != l.RAMEnd, l.RAMEnd <= ramStart,
				l.DMASize < DMAMin, l.DMASize > DMAMax, l.DMASize%DMAAlign != 0, l.RAMSize < 8<<20:
				t.Fatalf("layout %+v", l)
			}
		}
		_ = ParseCmdline(si.Cmdline)
	})
}
