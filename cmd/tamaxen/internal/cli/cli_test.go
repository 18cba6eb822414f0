package cli

import (
	"flag"
	"go/version"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHelp(t *testing.T) {
	code, out, _ := run(t, t.TempDir(), "-h")
	assert.Equal(t, 0, code)
	for _, c := range commands() {
		assert.Contains(t, out, "  "+c.name+" ")
		for _, h := range []string{"-h", "-help", "--help"} {
			code, out, errOut := run(t, t.TempDir(), c.name, h)
			assert.Equal(t, 0, code, "%s %s", c.name, h)
			assert.Empty(t, out)
			assert.Contains(t, errOut, "Usage: tamaxen "+c.name+" ", "%s %s", c.name, h)
			assert.Greater(t, strings.Count(errOut, "\n"), 3, "%s %s explains itself", c.name, h)
		}
	}
	code, _, errOut := run(t, t.TempDir(), "frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `unknown command "frobnicate"`)
	code, _, _ = run(t, t.TempDir())
	assert.Equal(t, 2, code)
	code, _, errOut = run(t, t.TempDir(), "build", "-nonsense")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "flag provided but not defined: -nonsense")
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		pos, rest []string
		name      string
		memory    int
	}{
		{args: []string{"web.elf"}, pos: []string{"web.elf"}, memory: 64},
		{args: []string{"-name", "a", "web.elf", "-memory", "32"}, pos: []string{"web.elf"}, name: "a", memory: 32},
		{args: []string{"x", "y", "-name=b"}, pos: []string{"x", "y"}, name: "b", memory: 64},
		{args: []string{"./pkg", "--", "-forward", "127.0.0.1:0-:80"}, pos: []string{"./pkg"}, rest: []string{"-forward", "127.0.0.1:0-:80"}, memory: 64},
		{args: []string{"--"}, rest: []string{}, memory: 64},
		{args: []string{"--", "--", "-x"}, rest: []string{"--", "-x"}, memory: 64},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		name := fs.String("name", "", "")
		memory := fs.Int("memory", 64, "")
		pos, rest, err := parseArgs(fs, tc.args)
		require.NoError(t, err, "%v", tc.args)
		assert.Equal(t, tc.pos, pos, "%v", tc.args)
		assert.Equal(t, tc.rest, rest, "%v", tc.args)
		assert.Equal(t, tc.name, *name)
		assert.Equal(t, tc.memory, *memory)
	}
}

func TestFixError(t *testing.T) {
	err := fixf([]string{"one", "two\nlines"}, "broken %d", 1)
	assert.Equal(t, "broken 1\n  fix: one\n  fix: two\n       lines", err.Error())
}

// What tamaxen knows of itself agrees with the repository: its go.mod, and the README's steps
// to build the TamaGo compiler, which doctor and build print.
func TestAgreesWithRepository(t *testing.T) {
	repo := checkout(t)
	m, err := readGoMod(filepath.Join(repo, "go.mod"))
	require.NoError(t, err)
	assert.Equal(t, GoDirective, m.Go, "tamaxen new writes tamaxen's own go directive")
	assert.Equal(t, "go"+GoDirective, TamagoGo, "the go directive is the TamaGo compiler's version")
	tamago, ok := m.Require[tamagoModule]
	require.True(t, ok)
	assert.Equal(t, version.Lang(TamagoGo), "go"+strings.TrimPrefix(semverLang(tamago), "v"),
		"%s %s goes with the TamaGo compiler %s", tamagoModule, tamago, TamagoGo)

	readme, err := os.ReadFile(filepath.Join(repo, "README.md"))
	require.NoError(t, err)
	steps := strings.Split(tamagoSteps[0], "\n")[1:]
	for _, s := range steps {
		assert.Contains(t, string(readme), "\n"+s+"\n", "README's build steps of the TamaGo compiler")
	}
}
