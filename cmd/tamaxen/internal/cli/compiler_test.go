package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckModules(t *testing.T) {
	tx := listedModule{Path: tamaxenModule, Version: "v0.1.0"}
	txMod := goMod{Require: map[string]string{tamagoModule: "v1.26.0"}}
	tamago := listedModule{Path: tamagoModule, Version: "v1.26.0"}
	missing := listedModule{Error: &struct{ Err string }{"not a known dependency"}}
	for _, tc := range []struct {
		name            string
		tamaxen, tamago listedModule
		compiler        string
		fix             string // "" for no error
	}{
		{name: "as tamaxen needs", tamaxen: tx, tamago: tamago, compiler: "go1.26.0"},
		{name: "a later compiler patch", tamaxen: tx, tamago: tamago, compiler: "go1.26.3"},
		{name: "no tamaxen", tamaxen: missing, tamago: missing, compiler: "go1.26.0", fix: "go get " + tamaxenModule},
		{name: "no tamago", tamaxen: tx, tamago: missing, compiler: "go1.26.0", fix: "go mod tidy"},
		{name: "newer tamago", tamaxen: tx, tamago: listedModule{Path: tamagoModule, Version: "v1.27.0"}, compiler: "go1.26.0",
			fix: "go get " + tamagoModule + "@v1.26.0"},
		{name: "tamago replaced by a version", tamaxen: tx, compiler: "go1.26.0", fix: "go get " + tamagoModule + "@v1.26.0",
			tamago: listedModule{Path: tamagoModule, Version: "v1.26.0", Replace: &listedModule{Path: "example.com/fork", Version: "v1.25.0"}}},
		{name: "tamago replaced by a folder", tamaxen: tx, compiler: "go1.26.0",
			tamago: listedModule{Path: tamagoModule, Version: "v1.26.0", Replace: &listedModule{Path: "../tamago"}}},
		{name: "compiler of another release", tamaxen: tx, tamago: tamago, compiler: "go1.25.5", fix: "git clone -b tamago1.26.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkModules(tc.tamaxen, tc.tamago, txMod, tc.compiler)
			if tc.fix == "" {
				assert.NoError(t, err)
				return
			}
			var fe *FixError
			require.ErrorAs(t, err, &fe)
			assert.Contains(t, strings.Join(fe.Fixes, "\n"), tc.fix)
		})
	}
}

// fakeCompilerEnv is an Env whose PATH has exactly the commands of cmds, each answering the
// commands tamaxen runs to learn about it (go env GOVERSION, go tool dist list).
func fakeCompilerEnv(cmds map[string]fakeGo) *Env {
	env, _, _ := testEnv("/nowhere")
	env.Getenv = func(k string) string { return cmds["$"+k].version }
	env.LookPath = func(name string) (string, error) {
		if _, ok := cmds[name]; ok {
			return "/bin/" + name, nil
		}
		return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
	}
	env.Output = func(_ context.Context, _ string, _ []string, name string, args ...string) ([]byte, error) {
		g, ok := cmds[strings.TrimPrefix(name, "/bin/")]
		if !ok {
			return nil, errors.New("no such command")
		}
		switch strings.Join(args, " ") {
		case "env GOVERSION":
			return []byte(g.version + "\n"), nil
		case "tool dist list":
			if g.tamago {
				return []byte("linux/amd64\ntamago/amd64\ntamago/arm\n"), nil
			}
			return []byte("linux/amd64\nwindows/amd64\n"), nil
		}
		return nil, fmt.Errorf("unexpected %v", args)
	}
	return env
}

type fakeGo struct {
	version string
	tamago  bool
}

func TestFindCompiler(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cmds  map[string]fakeGo
		want  string // the compiler's path, or
		fault string // the start of the problem
	}{
		{name: "on PATH", cmds: map[string]fakeGo{"tamago-go": {"go1.26.0", true}}, want: "/bin/tamago-go"},
		{name: "GOVERSION with experiments", cmds: map[string]fakeGo{"tamago-go": {"go1.26.0 X:nodwarf5", true}}, want: "/bin/tamago-go"},
		{name: "TAMAGO first", cmds: map[string]fakeGo{"$TAMAGO": {version: "tg"}, "tg": {"go1.26.0", true}, "tamago-go": {"go1.26.0", false}}, want: "/bin/tg"},
		{name: "nowhere", cmds: map[string]fakeGo{"go": {"go1.26.8", false}}, fault: "the TamaGo compiler was not found: TAMAGO is not set and there is no tamago-go on PATH"},
		{name: "TAMAGO names nothing", cmds: map[string]fakeGo{"$TAMAGO": {version: "/opt/none/bin/go"}}, fault: "the TamaGo compiler was not found: TAMAGO=/opt/none/bin/go"},
		{name: "stock go", cmds: map[string]fakeGo{"tamago-go": {"go1.26.8", false}}, fault: "/bin/tamago-go (from PATH) is a stock Go toolchain"},
		{name: "another release", cmds: map[string]fakeGo{"tamago-go": {"go1.25.5", true}}, fault: "/bin/tamago-go is the TamaGo compiler go1.25.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := findCompiler(context.Background(), fakeCompilerEnv(tc.cmds))
			if tc.fault == "" {
				require.NoError(t, err)
				assert.Equal(t, tc.want, c.Path)
				assert.Equal(t, "go1.26.0", c.Version)
				return
			}
			var fe *FixError
			require.ErrorAs(t, err, &fe)
			assert.True(t, strings.HasPrefix(fe.Problem, tc.fault), fe.Problem)
			assert.Contains(t, strings.Join(fe.Fixes, "\n"), "./make.bash", "the fix is the README's build steps")
		})
	}
}
