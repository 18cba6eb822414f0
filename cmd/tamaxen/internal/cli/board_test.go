package cli

import (
	"encoding/json"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNeedsBoard(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    listedPackage
		want bool
	}{
		{name: "plain program", p: listedPackage{ImportPath: "web", Deps: []string{"fmt", "runtime"}}, want: true},
		{name: "board imported", p: listedPackage{ImportPath: "web", Deps: []string{"fmt", boardPackage}}},
		{name: "board through unikernel", p: listedPackage{ImportPath: "web",
			Deps: []string{boardPackage, "github.com/tamaxen/tamaxen/netstack", "github.com/tamaxen/tamaxen/unikernel"}}},
		{name: "a package named like it", p: listedPackage{ImportPath: "web", Deps: []string{boardPackage + "/internal", "example.com/board/xenpvh"}}, want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, needsBoard(tc.p))
		})
	}
}

// The overlay adds a file of package main that only TamaGo builds compile, and which imports
// the board, under a name none of the package's files has; the package's folder is untouched.
func TestWriteBoardOverlay(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing []string
		want     string
	}{
		{name: "free name", existing: []string{"main.go"}, want: "tamaxen_board_tamago.go"},
		{name: "name taken", existing: []string{"main.go", "tamaxen_board_tamago.go"}, want: "tamaxen_board2_tamago.go"},
		{name: "two taken", existing: []string{"tamaxen_board_tamago.go", "tamaxen_board2_tamago.go"}, want: "tamaxen_board3_tamago.go"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, tmp := t.TempDir(), t.TempDir()
			for _, f := range tc.existing {
				require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("package main\n"), 0o644))
			}
			before, err := os.ReadDir(dir)
			require.NoError(t, err)

			path, err := writeBoardOverlay(listedPackage{Dir: dir, Name: "main"}, tmp)
			require.NoError(t, err)
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			var ov overlay
			require.NoError(t, json.Unmarshal(data, &ov))
			require.Len(t, ov.Replace, 1)
			for to, from := range ov.Replace {
				assert.Equal(t, filepath.Join(dir, tc.want), to)
				src, err := os.ReadFile(from)
				require.NoError(t, err)
				checkBoardFile(t, tc.want, src)
			}
			after, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Equal(t, before, after, "the package's folder is left as it was")
		})
	}
}

// checkBoardFile checks that src, a file called name, is a file of package main that imports
// the board, in TamaGo builds for amd64 only.
func checkBoardFile(t *testing.T, name string, src []byte) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly|parser.ParseComments)
	require.NoError(t, err)
	assert.Equal(t, "main", f.Name.Name)
	require.Len(t, f.Imports, 1)
	path, err := strconv.Unquote(f.Imports[0].Path.Value)
	require.NoError(t, err)
	assert.Equal(t, boardPackage, path)
	assert.Equal(t, "_", f.Imports[0].Name.Name)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), src, 0o644))
	for _, tc := range []struct {
		goos, goarch string
		want         bool
	}{{"tamago", "amd64", true}, {"tamago", "arm64", false}, {"linux", "amd64", false}} {
		ctxt := build.Default
		ctxt.GOOS, ctxt.GOARCH = tc.goos, tc.goarch
		ok, err := ctxt.MatchFile(dir, name)
		require.NoError(t, err)
		assert.Equal(t, tc.want, ok, "%s in a %s/%s build", name, tc.goos, tc.goarch)
	}
}
