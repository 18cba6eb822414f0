package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// machine is a fake machine for doctor: what is on PATH, who runs, the cache and its disk.
type machine struct {
	cmds   map[string]fakeGo // go commands on PATH (and $TAMAGO), as for findCompiler
	qemu   bool
	euid   int
	cached bool   // a QEMU/Xen image in the cache
	free   uint64 // bytes free for the cache
}

func (m machine) env(t *testing.T) (*Env, *bytes.Buffer) {
	env := fakeCompilerEnv(m.cmds)
	look := env.LookPath
	env.LookPath = func(name string) (string, error) {
		if name == "qemu-system-x86_64" {
			if m.qemu {
				return "/usr/bin/qemu-system-x86_64", nil
			}
			return "", errors.New("not found")
		}
		return look(name)
	}
	env.Geteuid = func() int { return m.euid }
	cache := t.TempDir()
	env.CacheDir = func() (string, error) { return cache, nil }
	if m.cached {
		img := filepath.Join(cache, "tamaxen", "xen-image", "0ad2f81af0672e24")
		require.NoError(t, os.MkdirAll(img, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(img, "image.env"), nil, 0o644))
	}
	env.FreeBytes = func(path string) (uint64, error) {
		if !strings.HasPrefix(path, cache) {
			return 0, errors.New("outside the cache")
		}
		return m.free, nil
	}
	var out bytes.Buffer
	env.Stdout = &out
	return env, &out
}

func TestDoctor(t *testing.T) {
	all := machine{cmds: map[string]fakeGo{"go": {"go1.26.8", false}, "tamago-go": {"go1.26.0", true}}, qemu: true, free: 50 << 30}
	for _, tc := range []struct {
		name    string
		edit    func(*machine)
		missing []string // the checks reported missing
		says    []string // and what the report must say
	}{
		{name: "all there", edit: func(*machine) {}, says: []string{"ok      tamago-go: the TamaGo compiler go1.26.0 (/bin/tamago-go)", "all there"}},
		{name: "no tamago-go", edit: func(m *machine) { m.cmds = map[string]fakeGo{"go": {"go1.26.8", false}} },
			missing: []string{"tamago-go"},
			says: []string{"MISSING tamago-go: the TamaGo compiler was not found: TAMAGO is not set and there is no tamago-go on PATH (for build, xen-run)",
				"git clone -b tamago1.26.0 https://github.com/usbarmory/tamago-go /opt/tamago-go",
				"(cd /opt/tamago-go/src && ./make.bash)",
				"export TAMAGO=/opt/tamago-go/bin/go", "1 missing"}},
		{name: "tamago-go is stock go", edit: func(m *machine) { m.cmds["tamago-go"] = fakeGo{"go1.26.8", false} },
			missing: []string{"tamago-go"}, says: []string{"is a stock Go toolchain", "./make.bash"}},
		{name: "old go", edit: func(m *machine) { m.cmds["go"] = fakeGo{"go1.24.2", false} },
			missing: []string{"go"}, says: []string{"go1.24.2 (/bin/go), older than go1.26.0", "https://go.dev/dl/"}},
		{name: "no go", edit: func(m *machine) { delete(m.cmds, "go") }, missing: []string{"go"}, says: []string{"no go command on PATH"}},
		{name: "no qemu", edit: func(m *machine) { m.qemu = false }, missing: []string{"qemu-system-x86_64"}, says: []string{"apt-get install qemu-system-x86"}},
		{name: "not root, image cached", edit: func(m *machine) { m.euid, m.cached = 1000, true }, says: []string{"not root, but 1 QEMU/Xen image(s) cached"}},
		{name: "not root, no image", edit: func(m *machine) { m.euid = 1000 }, missing: []string{"root"}, says: []string{"run the first tamaxen xen-run as root"}},
		{name: "disk full", edit: func(m *machine) { m.free = 300 << 20 }, missing: []string{"disk"}, says: []string{"0.3 GiB free", "XDG_CACHE_HOME"}},
		{name: "everything missing", edit: func(m *machine) { *m = machine{euid: 1000, free: 1 << 20} },
			missing: []string{"go", "tamago-go", "qemu-system-x86_64", "root", "disk"}, says: []string{"5 missing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := all
			m.cmds = map[string]fakeGo{}
			for k, v := range all.cmds {
				m.cmds[k] = v
			}
			tc.edit(&m)
			env, out := m.env(t)
			err := runDoctor(context.Background(), env, nil)
			var missing []string
			for _, l := range strings.Split(out.String(), "\n") {
				if name, ok := strings.CutPrefix(l, "MISSING "); ok {
					name, _, _ = strings.Cut(name, ":")
					missing = append(missing, name)
				}
			}
			assert.Equal(t, tc.missing, missing, out.String())
			if len(tc.missing) == 0 {
				assert.NoError(t, err)
			} else {
				assert.Equal(t, exitError{1}, err)
			}
			for _, s := range tc.says {
				assert.Contains(t, out.String(), s)
			}
		})
	}
}
