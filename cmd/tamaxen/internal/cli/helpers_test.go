// Test helpers: environments, the repository's checkout, and tiny ELF images.

package cli

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// testEnv is this process's environment with output captured and the working directory dir.
func testEnv(dir string) (*Env, *bytes.Buffer, *bytes.Buffer) {
	env := OSEnv()
	var stdout, stderr bytes.Buffer
	env.Stdout, env.Stderr, env.Dir = &stdout, &stderr, dir
	return env, &stdout, &stderr
}

// run runs tamaxen with args in dir and returns its status, stdout and stderr.
func run(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	env, stdout, stderr := testEnv(dir)
	code := Main(context.Background(), env, args)
	return code, stdout.String(), stderr.String()
}

// checkout is the tamaxen checkout these tests run in.
func checkout(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	dir := findCheckout(wd)
	require.NotEmpty(t, dir, "no tamaxen checkout above %s", wd)
	return dir
}

// note is an ELF note.
type note struct {
	name string
	typ  uint32
	desc []byte
}

// writeELF writes an amd64 executable with no code and one PT_NOTE segment holding notes.
func writeELF(t *testing.T, path string, notes ...note) {
	t.Helper()
	var data bytes.Buffer
	for _, n := range notes {
		name := n.name + "\x00"
		for _, v := range []uint32{uint32(len(name)), uint32(len(n.desc)), n.typ} {
			require.NoError(t, binary.Write(&data, binary.LittleEndian, v))
		}
		data.WriteString(name + strings.Repeat("\x00", int(align4(uint32(len(name))))-len(name)))
		data.Write(n.desc)
		data.WriteString(strings.Repeat("\x00", int(align4(uint32(len(n.desc))))-len(n.desc)))
	}
	hdr := elf.Header64{Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: 1}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS], hdr.Ident[elf.EI_DATA], hdr.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	prog := elf.Prog64{Type: uint32(elf.PT_NOTE), Off: 64 + 56, Filesz: uint64(data.Len()), Memsz: uint64(data.Len()), Align: 4}
	var out bytes.Buffer
	require.NoError(t, binary.Write(&out, binary.LittleEndian, hdr))
	require.NoError(t, binary.Write(&out, binary.LittleEndian, prog))
	out.Write(data.Bytes())
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, out.Bytes(), 0o755))
}

// pvhNote is the note of a PVH image entered at entry.
func pvhNote(entry uint64) note {
	d := binary.LittleEndian.AppendUint64(nil, entry)
	return note{name: "Xen", typ: xenElfnotePhys32Entry, desc: d}
}
