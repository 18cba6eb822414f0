package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tamagoOrSkip skips a test that needs the TamaGo compiler where there is none.
func tamagoOrSkip(t *testing.T) {
	t.Helper()
	if _, err := findCompiler(t.Context(), OSEnv()); err != nil {
		t.Skipf("no TamaGo compiler: %v", err)
	}
}

// TestBuild runs tamaxen build with the TamaGo compiler on a module of tamaxen new, outside
// the repository: refused with the fix when go.mod says what go mod init writes today, built
// once the fix is applied, and built bootable for a program that imports no board at all.
func TestBuild(t *testing.T) {
	tamagoOrSkip(t)
	repo := checkout(t)
	dir := filepath.Join(t.TempDir(), "web")
	code, _, errOut := run(t, t.TempDir(), "new", "-replace", repo, dir)
	require.Equal(t, 0, code, errOut)
	gomod := filepath.Join(dir, "go.mod")
	orig, err := os.ReadFile(gomod)
	require.NoError(t, err)

	t.Run("go 1.26.8", func(t *testing.T) {
		require.NoError(t, os.WriteFile(gomod, []byte(strings.Replace(string(orig), "\ngo "+GoDirective+"\n", "\ngo 1.26.8\n", 1)), 0o644))
		code, _, errOut := run(t, dir, "build")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "go.mod says `go 1.26.8`, newer than the TamaGo compiler")
		assert.Contains(t, errOut, "fix: set `go 1.26.0` in go.mod: go mod edit -go=1.26.0")
		assert.NoFileExists(t, filepath.Join(dir, "web.elf"))

		// The fix, as told; and a godebug directive of the module's own, which the image
		// must keep beside tamaxen's default.
		for _, edit := range []string{"-go=1.26.0", "-godebug=asynctimerchan=1"} {
			fix := exec.Command("go", "mod", "edit", edit)
			fix.Dir = dir
			out, err := fix.CombinedOutput()
			require.NoError(t, err, string(out))
		}
		code, stdout, errOut := run(t, dir, "build")
		require.Equal(t, 0, code, errOut)
		assert.Regexp(t, `^web\.elf: [0-9.]+ MiB \([0-9]+ bytes\), Xen PVH entry 0x[0-9a-f]+\n$`, stdout)
		_, err = pvhEntry(filepath.Join(dir, "web.elf"))
		assert.NoError(t, err)
		// Built with -trimpath: the image names its source files by module path, not by the
		// folders of the machine that built it (the build info keeps go.mod's replace line).
		img, err := os.ReadFile(filepath.Join(dir, "web.elf"))
		require.NoError(t, err)
		assert.NotContains(t, string(img), dir, "the module's folder")
		assert.NotContains(t, string(img), filepath.Join(repo, "board", "xenpvh")+string(filepath.Separator), "tamaxen's source files")
		assert.True(t, regexp.MustCompile(`github\.com/tamaxen/tamaxen(@[^/]+)?/board/xenpvh/`).Match(img),
			"tamaxen's source files by module path")
		assert.Contains(t, string(img), "memprofilerate=0,asynctimerchan=1",
			"the memory profiler off by default, the module's GODEBUG settings kept after it")
	})

	t.Run("no board import", func(t *testing.T) {
		plain := filepath.Join(dir, "plain")
		require.NoError(t, os.MkdirAll(plain, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(plain, "main.go"),
			[]byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"plain: hello\") }\n"), 0o644))
		code, stdout, errOut := run(t, dir, "build", "-o", "plain.elf", "./plain")
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, stdout, "board supplied by tamaxen build")
		entry, err := pvhEntry(filepath.Join(dir, "plain.elf"))
		require.NoError(t, err, "a PVH image")
		assert.GreaterOrEqual(t, entry, uint32(0x101000), "entered inside the image, linked at 0x101000")
		files, err := os.ReadDir(plain)
		require.NoError(t, err)
		require.Len(t, files, 1, "the program's folder is left as it was")
	})

	t.Run("no tamaxen in the module", func(t *testing.T) {
		other := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(other, "go.mod"), []byte("module other\n\ngo 1.26.0\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(other, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644))
		code, _, errOut := run(t, other, "build")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "this module does not require github.com/tamaxen/tamaxen")
		assert.Contains(t, errOut, "fix: go get github.com/tamaxen/tamaxen@latest")
	})

	t.Run("not a program", func(t *testing.T) {
		code, _, errOut := run(t, repo, "build", "./netfront")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "is package netfront, not a program")
	})
}

// The image's GODEBUG default is tamaxen's, then the module's, which wins where both set one.
func TestImageLdflags(t *testing.T) {
	for _, c := range []struct{ module, want string }{
		{"", "-X runtime.godebugDefault=memprofilerate=0"},
		{"asynctimerchan=1,tls3des=1", "-X runtime.godebugDefault=memprofilerate=0,asynctimerchan=1,tls3des=1"},
		{"memprofilerate=1", "-X runtime.godebugDefault=memprofilerate=0,memprofilerate=1"},
	} {
		got := imageLdflags(listedPackage{DefaultGODEBUG: c.module})
		assert.True(t, strings.HasPrefix(got, tamagoLdflags+" "), got)
		assert.True(t, strings.HasSuffix(got, " "+c.want), "%q: %s", c.module, got)
	}
}
