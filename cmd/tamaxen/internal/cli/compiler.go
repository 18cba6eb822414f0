// The TamaGo compiler: finding it, its version, and whether it can build the user's module.

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/version"
	"io"
	"strings"
)

const (
	// TamagoGo is the release of the TamaGo compiler tamaxen is built with: branch
	// "tamago"+TamagoGo[2:] of github.com/usbarmory/tamago-go.
	TamagoGo = "go1.26.0"
	// GoDirective is the go directive of tamaxen's go.mod, and the one `tamaxen new` writes:
	// the TamaGo compiler's own version, so that it accepts the module.
	GoDirective = "1.26.0"

	tamaxenModule = "github.com/tamaxen/tamaxen"
	tamagoModule  = "github.com/usbarmory/tamago"
	boardPackage  = tamaxenModule + "/board/xenpvh"
)

// The build settings of a tamaxen image. GOOSPKG names the module whose goos package is
// TamaGo's runtime/goos; the tags make the board, not TamaGo, provide the CPU initialisation
// and the start of RAM; and the board links images at 0x101000 (RamStart 0x100000 plus the
// ELF header page), in pages of 4 KiB.
var (
	tamagoEnv  = []string{"GOOS=tamago", "GOARCH=amd64", "GOOSPKG=" + tamagoModule}
	tamagoTags = "linkcpuinit,linkramstart"
	// -s -w: no symbol table or DWARF; the image is loaded by Xen, not debugged in place.
	tamagoLdflags = "-T 0x101000 -R 0x1000 -s -w"
	// -trimpath: file names in the image (panics, tracebacks, profiles) are module paths, not
	// this machine's folders, which also makes the image smaller and reproducible.
	tamagoFlags = []string{"-trimpath", "-tags", tamagoTags}
)

// imageLdflags is the linker flags for an image of p. memprofilerate=0: the memory profiler's
// first sample takes a 1.4 MiB table from the RAM a small guest's heap needs; the board turns
// it back on where there is room. The go command sets runtime.godebugDefault itself, from the
// module's go line and godebug directives, and a later -X replaces it: so p's default follows
// ours, and a setting of the module's (memprofilerate included) wins over it.
func imageLdflags(p listedPackage) string {
	godebug := "memprofilerate=0"
	if p.DefaultGODEBUG != "" {
		godebug += "," + p.DefaultGODEBUG
	}
	return tamagoLdflags + " -X runtime.godebugDefault=" + godebug
}

// tamagoSteps are the README's steps to build the TamaGo compiler.
var tamagoSteps = []string{
	"build the TamaGo compiler (about 7 minutes, with any Go >= 1.24 on PATH), outside your module:\n" +
		"git clone -b tamago" + strings.TrimPrefix(TamagoGo, "go") + " https://github.com/usbarmory/tamago-go /opt/tamago-go\n" +
		"(cd /opt/tamago-go/src && ./make.bash)\n" +
		`printf '#!/bin/sh\nexec /opt/tamago-go/bin/go "$@"\n' > /usr/local/bin/tamago-go` + "\n" +
		"chmod +x /usr/local/bin/tamago-go",
	"or point TAMAGO at its bin/go: export TAMAGO=/opt/tamago-go/bin/go",
}

// compiler is a TamaGo compiler found on this machine.
type compiler struct {
	Path    string // the go command to run
	Version string // its GOVERSION, "go1.26.0"
}

// env is the environment its commands run with: GOTOOLCHAIN=local, since no other toolchain
// can build GOOS=tamago.
func (c *compiler) env() []string {
	return append(append([]string{}, tamagoEnv...), "GOTOOLCHAIN=local")
}

// findCompiler finds the TamaGo compiler: $TAMAGO, else tamago-go on PATH, and checks that it
// is one (a stock go command knows no GOOS=tamago).
func findCompiler(ctx context.Context, env *Env) (*compiler, error) {
	name := env.Getenv("TAMAGO")
	from := "$TAMAGO"
	if name == "" {
		name, from = "tamago-go", "PATH"
	}
	path, err := env.LookPath(name)
	if err != nil {
		if from == "PATH" {
			return nil, fixf(tamagoSteps, "the TamaGo compiler was not found: TAMAGO is not set and there is no tamago-go on PATH")
		}
		return nil, fixf(tamagoSteps, "the TamaGo compiler was not found: TAMAGO=%s: %v", name, err)
	}
	out, err := env.Output(ctx, env.Dir, []string{"GOTOOLCHAIN=local"}, path, "env", "GOVERSION")
	if err != nil {
		return nil, fmt.Errorf("%s env GOVERSION: %w", path, err)
	}
	c := &compiler{Path: path, Version: goVersion(string(out))}
	list, err := env.Output(ctx, env.Dir, []string{"GOTOOLCHAIN=local"}, path, "tool", "dist", "list")
	if err != nil {
		return nil, fmt.Errorf("%s tool dist list: %w", path, err)
	}
	if !bytes.Contains(list, []byte("tamago/amd64")) {
		return nil, fixf(tamagoSteps, "%s (from %s) is a stock Go toolchain (%s): it cannot build GOOS=tamago", path, from, c.Version)
	}
	if !version.IsValid(c.Version) || version.Lang(c.Version) != version.Lang(TamagoGo) {
		return nil, fixf(tamagoSteps, "%s is the TamaGo compiler %s; tamaxen needs its %s release (%s)", path, c.Version, version.Lang(TamagoGo), TamagoGo)
	}
	return c, nil
}

// goVersion takes the version out of `go env GOVERSION` ("go1.26.0 X:nodwarf5" -> "go1.26.0").
func goVersion(out string) string {
	f := strings.Fields(out)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// listedModule is what `go list -m -json` says of a module.
type listedModule struct {
	Path, Version, Dir, GoMod string
	Main                      bool
	Replace                   *listedModule
	Error                     *struct{ Err string }
}

// listModules runs `go list -m -json -e` with the compiler in dir for the given module paths.
func listModules(ctx context.Context, env *Env, c *compiler, dir string, paths ...string) (map[string]listedModule, error) {
	out, err := env.Output(ctx, dir, c.env(), c.Path, append([]string{"list", "-m", "-json", "-e"}, paths...)...)
	if err != nil {
		return nil, fixf([]string{"go mod tidy"}, "the module graph cannot be loaded: %v", err)
	}
	mods := map[string]listedModule{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var m listedModule
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return mods, nil
		} else if err != nil {
			return nil, fmt.Errorf("go list -m: %w", err)
		}
		mods[m.Path] = m
	}
}

// checkModules says whether the module graph of the user's module gives the TamaGo compiler
// (version compilerVersion) what a tamaxen image needs: tamaxen itself, and TamaGo's module at
// the version tamaxen's go.mod requires (tamaxenMod), which is the one matching the compiler.
func checkModules(tamaxen, tamago listedModule, tamaxenMod goMod, compilerVersion string) error {
	if tamaxen.Error != nil {
		return fixf([]string{"go get " + tamaxenModule + "@latest (a `go mod tidy` keeps it only while a file imports it, as main.go or board_tamago.go of `tamaxen new` do)",
			"or, with a checkout of tamaxen: go mod edit -require=" + tamaxenModule + "@v0.0.0-00010101000000-000000000000 -replace=" + tamaxenModule + "=/path/to/tamaxen && go mod tidy"},
			"this module does not require %s (the board and drivers): %s", tamaxenModule, tamaxen.Error.Err)
	}
	want, ok := tamaxenMod.Require[tamagoModule]
	if !ok {
		return fmt.Errorf("%s's go.mod requires no %s", tamaxenModule, tamagoModule)
	}
	if tamago.Error != nil {
		return fixf([]string{"go mod tidy"}, "%s is not in the module graph: %s", tamagoModule, tamago.Error.Err)
	}
	got := tamago.Version
	if r := tamago.Replace; r != nil {
		if r.Version == "" {
			return nil // replaced by a folder: the user's own copy of TamaGo
		}
		got = r.Version
	}
	if got != want {
		return fixf([]string{"go get " + tamagoModule + "@" + want},
			"this module selects %s %s, but tamaxen is built against %s", tamagoModule, got, want)
	}
	if l := "go" + strings.TrimPrefix(semverLang(want), "v"); version.Lang(compilerVersion) != l {
		return fixf(tamagoSteps, "%s %s needs the TamaGo compiler %s.x, not %s", tamagoModule, want, l, compilerVersion)
	}
	return nil
}

// semverLang is the major.minor of a module version ("v1.26.0" -> "v1.26").
func semverLang(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// checkModule runs every check of the user's module in dir before a build: the go.mod
// versions, then the module graph. It returns tamaxen's module as listed.
func checkModule(ctx context.Context, env *Env, c *compiler, dir string) (listedModule, error) {
	path, err := findGoMod(dir)
	if err != nil {
		return listedModule{}, err
	}
	m, err := readGoMod(path)
	if err != nil {
		return listedModule{}, err
	}
	if err := checkGoVersions(path, m, c.Version); err != nil {
		return listedModule{}, err
	}
	mods, err := listModules(ctx, env, c, dir, tamaxenModule, tamagoModule)
	if err != nil {
		return listedModule{}, err
	}
	tx := mods[tamaxenModule]
	var txMod goMod
	if tx.Error == nil {
		if tx.GoMod == "" {
			return listedModule{}, fmt.Errorf("go list -m %s: no go.mod", tamaxenModule)
		}
		if txMod, err = readGoMod(tx.GoMod); err != nil {
			return listedModule{}, err
		}
	}
	if err := checkModules(tx, mods[tamagoModule], txMod, c.Version); err != nil {
		return listedModule{}, err
	}
	return tx, nil
}
