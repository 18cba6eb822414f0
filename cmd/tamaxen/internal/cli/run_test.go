package cli

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tamaxen run builds the program for this machine, even from a shell left with GOOS=tamago,
// hands it the arguments after --, and exits with its status.
func TestRunHosted(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module echo\n\ngo "+GoDirective+"\n"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "cmd", "echo"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cmd", "echo", "main.go"), []byte(`package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
)

func main() {
	fmt.Printf("%s/%s %s\n", runtime.GOOS, runtime.GOARCH, strings.Join(os.Args[1:], "|"))
	os.Exit(3)
}
`), 0o644))
	env, stdout, stderr := testEnv(dir)
	base := env.Environ
	env.Environ = func() []string { return append(base(), "GOOS=tamago", "GOOSPKG="+tamagoModule) }
	err := runHosted(t.Context(), env, []string{"./cmd/echo", "--", "-forward", "127.0.0.1:0-:80", "two words"})
	assert.Equal(t, exitError{3}, err, stderr.String())
	assert.Regexp(t, `^`+runtime.GOOS+`/[a-z0-9]+ -forward\|127\.0\.0\.1:0-:80\|two words\n$`, stdout.String())

	code, _, errOut := run(t, dir, "run", "./nothing-here")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "go build ./nothing-here")
}
