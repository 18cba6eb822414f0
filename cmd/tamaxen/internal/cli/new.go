// tamaxen new: a module for a unikernel of one's own, ready to run hosted and to build for Xen.

package cli

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"text/template"
)

const newDoc = `
Makes DIR a module for a unikernel of your own: go.mod (go ` + GoDirective + `, which the TamaGo
compiler accepts, and tamaxen required), main.go serving HTTP through package unikernel,
board_tamago.go linking the Xen PVH board, NAME.cfg (its xl config) and a README of the next
commands; then go mod tidy fills go.sum. NAME is DIR's last element, the module path too
unless -module gives one.

Which tamaxen go.mod requires: the version this tamaxen was installed at (go install
github.com/tamaxen/tamaxen/cmd/tamaxen@VERSION). A tamaxen built from a checkout has no
version: the module then requires tamaxen through a replace directive pointing at that
checkout (-replace, else the checkout holding the working directory, else the one this
tamaxen was built from).`

//go:embed template
var templates embed.FS

// placeholderVersion is the version a replaced requirement conventionally has.
const placeholderVersion = "v0.0.0-00010101000000-000000000000"

var modulePath = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~+-]*(/[A-Za-z0-9._~+-]+)*$`)

// tamaxenDep is how a new module requires tamaxen.
type tamaxenDep struct {
	Version string
	Replace string // a checkout's folder, or "" to use Version as published
}

// chooseTamaxen decides how the new module requires tamaxen: -replace, else -version, else
// the version this binary was installed at (a module download has a checksum; a build from a
// checkout has none, and its VCS-stamped pseudo-version names no published commit), else the
// first checkout in checkouts.
func chooseTamaxen(replace, version string, self debug.Module, checkouts ...string) (tamaxenDep, error) {
	if replace != "" {
		if !isTamaxenCheckout(replace) {
			return tamaxenDep{}, fmt.Errorf("-replace %s: no go.mod of %s there", replace, tamaxenModule)
		}
		if version == "" {
			version = placeholderVersion
		}
		return tamaxenDep{Version: version, Replace: replace}, nil
	}
	if version != "" {
		return tamaxenDep{Version: version}, nil
	}
	if self.Path == tamaxenModule && self.Sum != "" && self.Version != "" && self.Version != "(devel)" {
		return tamaxenDep{Version: self.Version}, nil
	}
	for _, dir := range checkouts {
		if dir != "" {
			return tamaxenDep{Version: placeholderVersion, Replace: dir}, nil
		}
	}
	return tamaxenDep{}, fixf([]string{"-replace DIR, DIR a checkout of " + tamaxenModule, "or -version VERSION, a published version"},
		"this tamaxen was not installed from a published version, and no checkout of tamaxen was found")
}

// isTamaxenCheckout says whether dir holds tamaxen's go.mod.
func isTamaxenCheckout(dir string) bool {
	m, err := readGoMod(filepath.Join(dir, "go.mod"))
	return err == nil && m.Module == tamaxenModule
}

// findCheckout returns the tamaxen checkout holding dir, or "".
func findCheckout(dir string) string {
	if dir == "" || !filepath.IsAbs(dir) {
		return ""
	}
	for d := dir; ; d = filepath.Dir(d) {
		if isTamaxenCheckout(d) {
			return d
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// builtFrom is the folder this file was compiled from, "" when the build trimmed paths.
func builtFrom() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	return filepath.Dir(file)
}

// scaffold is what the templates are filled with.
type scaffold struct {
	Name, Module, Elf, Cfg string
	Tamaxen                tamaxenDep
}

// programName makes a domain and program name of a folder name.
func programName(dir string) string {
	n := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(filepath.Base(dir), "-")
	n = strings.TrimLeft(n, "-_.")
	if len(n) > 64 {
		n = n[:64]
	}
	if n == "" {
		n = "unikernel"
	}
	return n
}

// files returns the new module's files by name.
func (s scaffold) files() (map[string][]byte, error) {
	files := map[string][]byte{}
	for name, tmpl := range map[string]string{"main.go": "main.go.tmpl", "README.md": "README.md.tmpl", ".gitignore": "gitignore.tmpl"} {
		t, err := template.ParseFS(templates, "template/"+tmpl)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if err := t.Execute(&b, s); err != nil {
			return nil, err
		}
		files[name] = b.Bytes()
	}
	var err error
	if files["main.go"], err = format.Source(files["main.go"]); err != nil {
		return nil, fmt.Errorf("main.go: %w", err)
	}
	files["board_tamago.go"] = boardSource("The Xen PVH board: boot, console, clock, events, XenStore and grant table. Package",
		"unikernel imports it too; this file keeps it in the image, and tamaxen in go.mod, whatever",
		"main.go imports.")
	var mod strings.Builder
	fmt.Fprintf(&mod, "module %s\n\n// The TamaGo compiler (%s) refuses a newer go directive.\ngo %s\n\nrequire %s %s\n",
		s.Module, TamagoGo, GoDirective, tamaxenModule, s.Tamaxen.Version)
	if s.Tamaxen.Replace != "" {
		fmt.Fprintf(&mod, "\n// tamaxen new was not installed from a published tamaxen: the checkout it came from.\nreplace %s => %s\n",
			tamaxenModule, s.Tamaxen.Replace)
	}
	files["go.mod"] = []byte(mod.String())
	cfg := xlConfig{Name: s.Name, Kernel: s.Elf, Memory: 64, MAC: defaultMAC(s.Name), Bridge: "xenbr0"}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	files[s.Cfg] = cfg.render(s.Cfg)
	return files, nil
}

func runNew(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "new", "[-module PATH] [-replace DIR | -version VERSION] DIR", newDoc)
	module := fs.String("module", "", "the module `path` (default: DIR's last element)")
	replace := fs.String("replace", "", "require tamaxen through a replace directive to this checkout `DIR`")
	version := fs.String("version", "", "require this published tamaxen `version`")
	dir, err := oneArg(fs, args)
	if err != nil {
		return err
	}
	dir = inDir(env.Dir, dir)
	if *replace != "" {
		*replace = inDir(env.Dir, *replace)
	}
	s := scaffold{Name: programName(dir), Module: *module}
	s.Elf, s.Cfg = s.Name+".elf", s.Name+".cfg"
	if s.Module == "" {
		s.Module = filepath.Base(dir)
	}
	if !modulePath.MatchString(s.Module) {
		return fmt.Errorf("%q is no module path: give one with -module (example.com/%s)", s.Module, s.Name)
	}
	var self debug.Module
	if info, ok := debug.ReadBuildInfo(); ok {
		self = info.Main
	}
	if s.Tamaxen, err = chooseTamaxen(*replace, *version, self, findCheckout(env.Dir), findCheckout(builtFrom())); err != nil {
		return err
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s exists and is not empty", dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	files, err := s.files()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	gocmd, err := env.LookPath("go")
	if err != nil {
		return fixf([]string{"install Go " + GoDirective + " or later (https://go.dev/dl/), then: cd " + dir + " && go mod tidy"},
			"made %s, but go mod tidy cannot run: %v", dir, err)
	}
	if _, err := env.Output(ctx, dir, nil, gocmd, "mod", "tidy"); err != nil {
		return fixf([]string{"cd " + dir + " && go mod tidy (it needs the module proxy, or a module cache holding tamaxen's dependencies)"},
			"made %s, but go mod tidy failed: %v", dir, err)
	}
	fmt.Fprintf(env.Stdout, "made %s (module %s, tamaxen %s", dir, s.Module, s.Tamaxen.Version)
	if s.Tamaxen.Replace != "" {
		fmt.Fprintf(env.Stdout, " from %s", s.Tamaxen.Replace)
	}
	fmt.Fprintf(env.Stdout, ")\nnext, in %s:\n", dir)
	for _, l := range []string{
		"tamaxen run                     # hosted: curl http://127.0.0.1:8080/",
		"tamaxen build                   # the Xen PVH image " + s.Elf,
		"xl create -c " + s.Cfg + strings.Repeat(" ", max(1, 19-len(s.Cfg))) + "# on the Xen host, next to " + s.Elf,
	} {
		fmt.Fprintf(env.Stdout, "  %s\n", l)
	}
	return nil
}
