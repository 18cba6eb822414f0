// The board: whether a main package links it, and the overlay that supplies it when not.

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// listedPackage is what `go list -json` says of the package to build.
type listedPackage struct {
	Dir, ImportPath, Name string
	GoFiles               []string
	Deps                  []string
	// DefaultGODEBUG is the GODEBUG default the go command gives the program (from its
	// module's go line and godebug directives); imageLdflags keeps it.
	DefaultGODEBUG string
}

// listPackage lists pkg as the TamaGo compiler builds it (GOOS=tamago, the board's tags), so
// that the files and imports are those of the image.
func listPackage(ctx context.Context, env *Env, c *compiler, dir, pkg string) (listedPackage, error) {
	out, err := env.Output(ctx, dir, c.env(), c.Path, "list", "-json", "-tags", tamagoTags, pkg)
	if err != nil {
		return listedPackage{}, err
	}
	var ps []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			return listedPackage{}, fmt.Errorf("go list %s: %w", pkg, err)
		}
		ps = append(ps, p)
	}
	switch {
	case len(ps) == 0:
		return listedPackage{}, fmt.Errorf("%s matches no package", pkg)
	case len(ps) > 1:
		return listedPackage{}, fmt.Errorf("%s matches %d packages; name one", pkg, len(ps))
	case ps[0].Name != "main":
		return listedPackage{}, fmt.Errorf("%s is package %s, not a program (package main)", ps[0].ImportPath, ps[0].Name)
	}
	return ps[0], nil
}

// needsBoard says whether the image of p would lack the board: nothing in the program imports
// board/xenpvh (programs using package unikernel have it through unikernel). Without the
// board the TamaGo runtime has no clock, console or memory map, and the link fails.
func needsBoard(p listedPackage) bool {
	return p.ImportPath != boardPackage && !slices.Contains(p.Deps, boardPackage)
}

// boardSource is a file of package main that links the board: the one the overlay adds to a
// main package that lacks it, and board_tamago.go of `tamaxen new`, with comment above the import.
func boardSource(comment ...string) []byte {
	var b strings.Builder
	b.WriteString("//go:build tamago && amd64\n\npackage main\n\n")
	for _, l := range comment {
		b.WriteString("// " + l + "\n")
	}
	b.WriteString("import _ " + strconv.Quote(boardPackage) + "\n")
	return []byte(b.String())
}

// overlay is the JSON file go build -overlay reads.
type overlay struct {
	Replace map[string]string
}

// writeBoardOverlay writes, into tmp, the board file and an overlay that adds it to the
// package in p.Dir under a name no file of that folder has; the user's files stay untouched.
// It returns the overlay file's path.
func writeBoardOverlay(p listedPackage, tmp string) (string, error) {
	name := "tamaxen_board_tamago.go"
	for i := 2; ; i++ {
		if _, err := os.Lstat(filepath.Join(p.Dir, name)); os.IsNotExist(err) {
			break
		}
		name = fmt.Sprintf("tamaxen_board%d_tamago.go", i)
	}
	src := filepath.Join(tmp, "board.go")
	if err := os.WriteFile(src, boardSource("The Xen PVH board, supplied by tamaxen build."), 0o644); err != nil {
		return "", err
	}
	data, err := json.Marshal(overlay{Replace: map[string]string{filepath.Join(p.Dir, name): src}})
	if err != nil {
		return "", err
	}
	path := filepath.Join(tmp, "overlay.json")
	return path, os.WriteFile(path, data, 0o644)
}
