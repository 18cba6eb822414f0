package cli

import (
	"go/format"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChooseTamaxen(t *testing.T) {
	repo := checkout(t)
	published := debug.Module{Path: tamaxenModule, Version: "v0.3.0", Sum: "h1:abc="}
	for _, tc := range []struct {
		name             string
		replace, version string
		self             debug.Module
		checkouts        []string
		want             tamaxenDep
		fault            string
	}{
		{name: "installed at a version", self: published, checkouts: []string{repo}, want: tamaxenDep{Version: "v0.3.0"}},
		{name: "-version", version: "v0.2.0", self: published, want: tamaxenDep{Version: "v0.2.0"}},
		{name: "-replace", replace: repo, self: published, want: tamaxenDep{Version: placeholderVersion, Replace: repo}},
		{name: "-replace and -version", replace: repo, version: "v0.2.0", want: tamaxenDep{Version: "v0.2.0", Replace: repo}},
		{name: "-replace of no checkout", replace: t.TempDir(), fault: "no go.mod of " + tamaxenModule},
		{name: "built in a checkout", self: debug.Module{Path: tamaxenModule, Version: "(devel)"}, checkouts: []string{"", repo},
			want: tamaxenDep{Version: placeholderVersion, Replace: repo}},
		{name: "VCS-stamped, no checksum", self: debug.Module{Path: tamaxenModule, Version: "v0.0.0-20261207043000-7ee4279abcde+dirty"},
			checkouts: []string{repo}, want: tamaxenDep{Version: placeholderVersion, Replace: repo}},
		{name: "no checkout found", self: debug.Module{Path: tamaxenModule, Version: "(devel)"}, checkouts: []string{"", ""},
			fault: "not installed from a published version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := chooseTamaxen(tc.replace, tc.version, tc.self, tc.checkouts...)
			if tc.fault != "" {
				assert.ErrorContains(t, err, tc.fault)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestFindCheckout(t *testing.T) {
	repo := checkout(t)
	assert.Equal(t, repo, findCheckout(filepath.Join(repo, "netfront", "pcap")))
	assert.Equal(t, "", findCheckout(t.TempDir()))
	assert.Equal(t, "", findCheckout("relative/path"))
	assert.Equal(t, repo, findCheckout(builtFrom()), "this package was built from the checkout")
}

func TestProgramName(t *testing.T) {
	for in, want := range map[string]string{
		"/home/me/web":                  "web",
		"/home/me/hello-xen":            "hello-xen",
		"/home/me/My Web App!":          "My-Web-App-",
		"/home/me/.hidden":              "hidden",
		"/home/me/日本":                   "unikernel",
		"/x/" + strings.Repeat("a", 80): strings.Repeat("a", 64),
	} {
		got := programName(in)
		assert.Equal(t, want, got, in)
		assert.Regexp(t, domainName, got)
	}
}

// The scaffold's files: Go sources gofmt'd and TamaGo's build rules respected, a go.mod the
// TamaGo compiler accepts, and an xl config that boots the image tamaxen build makes.
func TestScaffoldFiles(t *testing.T) {
	s := scaffold{Name: "web", Module: "example.com/web", Elf: "web.elf", Cfg: "web.cfg",
		Tamaxen: tamaxenDep{Version: placeholderVersion, Replace: "/src/tamaxen"}}
	files, err := s.files()
	require.NoError(t, err)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	assert.ElementsMatch(t, []string{"go.mod", "main.go", "board_tamago.go", "web.cfg", "README.md", ".gitignore"}, names)

	for _, n := range []string{"main.go", "board_tamago.go"} {
		src, err := format.Source(files[n])
		require.NoError(t, err, n)
		assert.Equal(t, string(src), string(files[n]), "%s is gofmt'd", n)
	}
	checkBoardFile(t, "board_tamago.go", files["board_tamago.go"])
	assert.Contains(t, string(files["main.go"]), `Name: "web"`)
	assert.Contains(t, string(files["main.go"]), `"github.com/tamaxen/tamaxen/unikernel"`)

	m, err := parseGoMod(files["go.mod"])
	require.NoError(t, err)
	assert.Equal(t, "example.com/web", m.Module)
	assert.Equal(t, GoDirective, m.Go)
	assert.NoError(t, checkGoVersions("go.mod", m, TamagoGo), "the TamaGo compiler accepts it")
	assert.Equal(t, map[string]string{tamaxenModule: placeholderVersion}, m.Require)
	assert.Contains(t, string(files["go.mod"]), "\nreplace "+tamaxenModule+" => /src/tamaxen\n")

	cfg := parseXL(t, string(files["web.cfg"]))
	assert.Equal(t, "web", cfg["name"])
	assert.Equal(t, "pvh", cfg["type"])
	assert.Equal(t, "web.elf", cfg["kernel"])
	assert.Equal(t, "preserve", cfg["on_crash"])
	assert.Equal(t, []string{"mac=" + defaultMAC("web") + ",bridge=xenbr0"}, cfg["vif"])

	readme := string(files["README.md"])
	for _, step := range []string{"tamaxen run", "tamaxen build", "tamaxen xl", "xl create -c web.cfg"} {
		assert.Contains(t, readme, step)
	}

	s.Tamaxen = tamaxenDep{Version: "v0.3.0"}
	files, err = s.files()
	require.NoError(t, err)
	assert.NotContains(t, string(files["go.mod"]), "replace")
	assert.Contains(t, string(files["go.mod"]), "require "+tamaxenModule+" v0.3.0\n")
}

func TestNewRefuses(t *testing.T) {
	repo := checkout(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n"), 0o644))
	code, _, errOut := run(t, dir, "new", "-replace", repo, dir)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "exists and is not empty")

	code, _, errOut = run(t, dir, "new", "-replace", repo, "-module", "not a path", filepath.Join(dir, "x"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "is no module path")

	code, _, errOut = run(t, dir, "new")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "Usage: tamaxen new")
}
