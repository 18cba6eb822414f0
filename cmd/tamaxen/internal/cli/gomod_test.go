package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseGoMod(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     goMod
		bad      bool
	}{
		{name: "go mod init today", in: "module example.com/web\n\ngo 1.26.8\n",
			want: goMod{Module: "example.com/web", Go: "1.26.8", Require: map[string]string{}}},
		{name: "blocks, comments, toolchain", in: `// a comment
module web // trailing

go 1.26.0

toolchain go1.26.8

require github.com/tamaxen/tamaxen v0.1.0

require (
	// tamago comes with tamaxen
	github.com/usbarmory/tamago v1.26.0 // indirect
	gvisor.dev/gvisor v0.0.0-20260413194555-9680d69bf798 // indirect
)

replace github.com/tamaxen/tamaxen => ../tamaxen

exclude (
	example.com/old v1.0.0
)
`, want: goMod{Module: "web", Go: "1.26.0", Toolchain: "go1.26.8", Require: map[string]string{
			"github.com/tamaxen/tamaxen":  "v0.1.0",
			"github.com/usbarmory/tamago": "v1.26.0",
			"gvisor.dev/gvisor":           "v0.0.0-20260413194555-9680d69bf798",
		}}},
		{name: "quoted path", in: "module \"example.com/q\"\nrequire \"example.com/dep\" v1.0.0\n",
			want: goMod{Module: "example.com/q", Require: map[string]string{"example.com/dep": "v1.0.0"}}},
		{name: "no go line", in: "module m\n", want: goMod{Module: "m", Require: map[string]string{}}},
		{name: "require without version", in: "module m\nrequire example.com/dep\n", bad: true},
		{name: "bad quoting", in: "module \"m\n", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := parseGoMod([]byte(tc.in))
			if tc.bad {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, m)
		})
	}
}

func TestCheckGoVersions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mod      goMod
		compiler string
		fix      string // "" for no error
	}{
		{name: "go mod init with Go 1.26.8", mod: goMod{Go: "1.26.8"}, compiler: "go1.26.0", fix: "set `go 1.26.0` in go.mod: go mod edit -go=1.26.0"},
		{name: "tamaxen new's", mod: goMod{Go: "1.26.0"}, compiler: "go1.26.0"},
		{name: "language version only", mod: goMod{Go: "1.26"}, compiler: "go1.26.0"},
		{name: "older module", mod: goMod{Go: "1.22.0"}, compiler: "go1.26.0"},
		{name: "rc of the next release", mod: goMod{Go: "1.27rc1"}, compiler: "go1.26.0", fix: "go mod edit -go=1.26.0"},
		{name: "newer compiler", mod: goMod{Go: "1.26.8"}, compiler: "go1.26.9"},
		{name: "no go line", mod: goMod{}, compiler: "go1.26.0"},
		{name: "not a version", mod: goMod{Go: "one"}, compiler: "go1.26.0", fix: "go mod edit -go=1.26.0"},
		{name: "toolchain newer", mod: goMod{Go: "1.26.0", Toolchain: "go1.26.8"}, compiler: "go1.26.0", fix: "go mod edit -toolchain=none"},
		{name: "toolchain same", mod: goMod{Go: "1.26.0", Toolchain: "go1.26.0"}, compiler: "go1.26.0"},
		{name: "toolchain default", mod: goMod{Go: "1.26.0", Toolchain: "default"}, compiler: "go1.26.0"},
		{name: "go line first", mod: goMod{Go: "1.26.8", Toolchain: "go1.26.8"}, compiler: "go1.26.0", fix: "go mod edit -go=1.26.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkGoVersions("web/go.mod", tc.mod, tc.compiler)
			if tc.fix == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			var fe *FixError
			require.ErrorAs(t, err, &fe)
			assert.Contains(t, fe.Problem, "web/go.mod says")
			assert.Contains(t, fe.Fixes[0], tc.fix)
			assert.Contains(t, err.Error(), "\n  fix: ")
		})
	}
}

func TestFindGoMod(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "a", "b")
	require.NoError(t, os.MkdirAll(sub, 0o755))
	_, err := findGoMod(sub)
	assert.ErrorContains(t, err, "no go.mod")
	require.NoError(t, os.WriteFile(filepath.Join(root, "go.mod"), []byte("module m\n"), 0o644))
	got, err := findGoMod(sub)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(root, "go.mod"), got)
}
