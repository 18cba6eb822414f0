// The import rules of docs/architecture.md, checked against every source file of the module.

package layers

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/tamaxen/tamaxen"

// A pattern names packages by their path in the module: "xen" is that package, "xen/..." it
// and every package below it, "..." every package.
func match(pattern, pkg string) bool {
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

func matchAny(patterns []string, pkg string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(p, pkg) })
}

// rule says which of the module's packages the packages it covers may import. The first rule
// whose pkgs matches a package applies; an import must match one of may and none of not.
type rule struct {
	pkgs string
	may  []string
	not  []string
	why  string
}

// rules is docs/architecture.md's table, from the bottom up.
var rules = []rule{
	{"xen", nil, nil,
		"the shared types and the platform seam sit below everything"},
	{"xen/sim/...", []string{"xen/...", "internal/..."}, nil,
		"the simulated Xen is built from the portable services, as a real host runs the same protocols"},
	{"xen/...", []string{"xen/...", "internal/..."}, []string{"xen/sim/..."},
		"portable Xen services: no driver, stack, hypercall binding, board, nor the simulator"},
	{"internal/...", []string{"xen/...", "internal/..."}, []string{"xen/sim/..."},
		"helpers shared by the services, the simulator and the stack"},
	{"hypercall", []string{"xen/..."}, []string{"xen/sim/..."},
		"the TamaGo binding layer implements the seam of package xen"},
	{"netfront/...", []string{"netfront/...", "xen/...", "internal/..."}, []string{"xen/sim/..."},
		"the driver runs on whatever fills xenbus.Platform, the board or the simulator"},
	{"netstack/hostnet", []string{"netstack/...", "netfront/...", "xen/...", "internal/..."}, nil,
		"hosted mode's host side is a peer on the simulated vif"},
	{"netstack/...", []string{"netstack/...", "netfront/...", "xen/...", "internal/..."}, []string{"xen/sim/..."},
		"the network stack sits on the driver"},
	{"board/...", []string{"board/...", "hypercall", "xen/...", "internal/..."}, []string{"xen/sim/..."},
		"the board binds the portable services to the CPU"},
	{"unikernel/...", []string{"unikernel/...", "board/...", "hypercall", "netstack/...", "netfront/...", "xen/...", "internal/..."}, nil,
		"what programs start from: everything below, on Xen or hosted"},
	{"examples/...", []string{"unikernel/...", "board/...", "hypercall", "netstack/...", "netfront/...", "xen/...", "internal/..."}, nil,
		"programs; nothing imports them"},
	{"cmd/...", []string{"cmd/...", "unikernel/...", "board/...", "hypercall", "netstack/...", "netfront/...", "xen/...", "internal/..."}, nil,
		"programs; nothing imports them"},
	{"tools/...", []string{"tools/...", "unikernel/...", "board/...", "hypercall", "netstack/...", "netfront/...", "xen/...", "internal/..."}, nil,
		"dom0's side of the tests; nothing imports them"},
}

// testMay is what a package's tests may import beyond what the package may.
var testMay = []struct {
	pkgs string
	may  []string
	why  string
}{
	{"xen/abi", []string{"..."}, "the ABI conformance test checks every package's wire constants"},
	{"xen/sim/...", []string{"netfront/..."}, "the simulator's end-to-end tests run the real driver as its guest"},
	{"...", []string{"xen/sim/..."}, "the simulated Xen is the host tests' Xen"},
}

// outside lists imports from outside the module that only some packages may have, in code
// (not in tests, which may use gVisor as an oracle and testify everywhere).
var outside = []struct {
	prefix string
	may    []string
	why    string
}{
	{"gvisor.dev/", []string{"netstack/..."}, "netstack is the only importer of gVisor"},
	{"github.com/usbarmory/tamago", []string{"board/..."}, "only the board binds to TamaGo"},
	{"runtime/goos", []string{"board/..."}, "only the board hooks TamaGo's runtime"},
	{"github.com/stretchr/testify", nil, "assertions belong in tests"},
}

// unsafeOnlyIn lists the packages whose code (not tests) imports unsafe only in *_unsafe.go
// files.
var unsafeOnlyIn = []string{"xen/...", "internal/...", "netfront/..."}

type file struct {
	pkg     string // path in the module: "xen/ring"
	name    string // path from the module root
	test    bool
	imports []string
}

// sources parses the imports of every Go file of the module, whatever its build tags: the
// TamaGo-only files import the most.
func sources(t *testing.T) []file {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	require.Contains(t, string(mod), "module "+module+"\n", "the module root is two levels up")
	var files []file
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			if p != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") ||
				strings.HasPrefix(name, "_") || rel == "build") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fl := file{pkg: filepath.ToSlash(filepath.Dir(rel)), name: filepath.ToSlash(rel),
			test: strings.HasSuffix(name, "_test.go")}
		for _, im := range f.Imports {
			v, err := strconv.Unquote(im.Path.Value)
			if err != nil {
				return err
			}
			fl.imports = append(fl.imports, v)
		}
		files = append(files, fl)
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

func ruleFor(pkg string) (rule, bool) {
	for _, r := range rules {
		if match(r.pkgs, pkg) {
			return r, true
		}
	}
	return rule{}, false
}

// violations lists the imports of files that break the rules.
func violations(files []file) []string {
	var bad []string
	for _, f := range files {
		r, ok := ruleFor(f.pkg)
		if !ok {
			if f.pkg != "." {
				bad = append(bad, fmt.Sprintf("%s: package %s has no rule in layers_test.go", f.name, f.pkg))
			}
			continue
		}
		for _, im := range f.imports {
			if why := broken(f, r, im); why != "" {
				bad = append(bad, fmt.Sprintf("%s imports %s: %s", f.name, im, why))
			}
		}
	}
	return bad
}

// broken says why file f, covered by rule r, may not import im, or "" if it may.
func broken(f file, r rule, im string) string {
	if im == "unsafe" && !f.test && matchAny(unsafeOnlyIn, f.pkg) && !strings.HasSuffix(f.name, "_unsafe.go") {
		return "unsafe lives in *_unsafe.go files"
	}
	for _, o := range outside {
		if strings.HasPrefix(im, o.prefix) && !f.test && !matchAny(o.may, f.pkg) {
			return o.why
		}
	}
	pkg, ok := strings.CutPrefix(im, module+"/")
	if !ok {
		return ""
	}
	if pkg == f.pkg {
		return "" // an external test package importing the package it tests
	}
	if f.test {
		for _, tm := range testMay {
			if match(tm.pkgs, f.pkg) && matchAny(tm.may, pkg) {
				return ""
			}
		}
	}
	if !matchAny(r.may, pkg) || matchAny(r.not, pkg) {
		return fmt.Sprintf("%s may import only %v%s (%s)", r.pkgs, r.may, notList(r.not), r.why)
	}
	return ""
}

func notList(not []string) string {
	if len(not) == 0 {
		return ""
	}
	return fmt.Sprintf(" but not %v", not)
}

func TestImportsPointDown(t *testing.T) {
	for _, v := range violations(sources(t)) {
		t.Error(v)
	}
}

// The criterion, in full: no package under xen/ depends, directly or through others,
// on the driver, the stack, the binding layer, the board or the unikernel (code only, every
// build tag).
func TestXenDependsOnNoDriver(t *testing.T) {
	deps := map[string][]string{}
	for _, f := range sources(t) {
		if f.test {
			continue
		}
		for _, im := range f.imports {
			if pkg, ok := strings.CutPrefix(im, module+"/"); ok && pkg != f.pkg {
				deps[f.pkg] = append(deps[f.pkg], pkg)
			}
		}
	}
	forbidden := []string{"netfront/...", "netstack/...", "hypercall", "board/...", "unikernel/..."}
	for pkg := range deps {
		if !match("xen/...", pkg) {
			continue
		}
		seen := map[string]bool{pkg: true}
		for queue := []string{pkg}; len(queue) > 0; queue = queue[1:] {
			for _, d := range deps[queue[0]] {
				if seen[d] {
					continue
				}
				seen[d] = true
				assert.False(t, matchAny(forbidden, d), "%s depends on %s (through %s)", pkg, d, queue[0])
				queue = append(queue, d)
			}
		}
	}
}

// The rules themselves: each broken import is caught, each allowed one left alone.
func TestRules(t *testing.T) {
	for _, tc := range []struct {
		f    file
		im   string
		ok   bool
		name string
	}{
		{file{pkg: "xen/sim/machine", name: "xen/sim/machine/machine.go"}, module + "/netfront", false, "simulator imports the driver"},
		{file{pkg: "xen/sim", name: "xen/sim/hypervisor.go"}, module + "/hypercall", false, "simulator imports the binding layer"},
		{file{pkg: "xen/ring", name: "xen/ring/ring.go"}, module + "/netstack", false, "service imports the stack"},
		{file{pkg: "xen/gnttab", name: "xen/gnttab/table.go"}, module + "/xen/sim", false, "service imports the simulator"},
		{file{pkg: "netfront", name: "netfront/rx.go"}, module + "/xen/sim/machine", false, "driver code imports the simulator"},
		{file{pkg: "xen", name: "xen/xen.go"}, module + "/xen/shmem", false, "the root imports a service"},
		{file{pkg: "internal/csum", name: "internal/csum/csum.go"}, module + "/netfront", false, "helper imports the driver"},
		{file{pkg: "netfront", name: "netfront/tx.go"}, "gvisor.dev/gvisor/pkg/tcpip", false, "driver imports gVisor"},
		{file{pkg: "xen/evtchn", name: "xen/evtchn/shared.go"}, "unsafe", false, "unsafe outside an _unsafe file"},
		{file{pkg: "xen/ring", name: "xen/ring/ring.go"}, "github.com/stretchr/testify/require", false, "testify in code"},

		{file{pkg: "xen/sim/machine", name: "xen/sim/machine/machine_test.go", test: true}, module + "/netfront", true, "simulator test runs the driver"},
		{file{pkg: "netfront", name: "netfront/sim_test.go", test: true}, module + "/xen/sim/machine", true, "driver test runs on the simulator"},
		{file{pkg: "xen/abi", name: "xen/abi/boot_test.go", test: true}, module + "/board/xenpvh", true, "the conformance test reads the board"},
		{file{pkg: "xen/ring", name: "xen/ring/ring_test.go", test: true}, module + "/hypercall", false, "a service's test imports the binding layer"},
		{file{pkg: "xen/shmem", name: "xen/shmem/shmem_unsafe.go"}, "unsafe", true, "unsafe in its file"},
		{file{pkg: "netstack/hostnet", name: "netstack/hostnet/hostnet.go"}, module + "/xen/sim/netback", true, "hosted mode on the simulator"},
		{file{pkg: "hypercall", name: "hypercall/hypercall.go"}, module + "/xen", true, "binding layer implements the seam"},
		{file{pkg: "board/xenpvh", name: "board/xenpvh/board_tamago_amd64.go"}, "github.com/usbarmory/tamago/amd64", true, "board binds TamaGo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.imports = []string{tc.im}
			bad := violations([]file{tc.f})
			if tc.ok {
				assert.Empty(t, bad)
			} else {
				assert.Len(t, bad, 1)
			}
		})
	}
	for _, r := range rules {
		assert.NotEmpty(t, r.why, r.pkgs)
		assert.False(t, path.IsAbs(r.pkgs), r.pkgs)
	}
}
