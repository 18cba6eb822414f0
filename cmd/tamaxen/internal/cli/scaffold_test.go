package cli

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestScaffoldHosted is a user's first minutes with a module of their own: tamaxen new in a
// folder outside the repository (requiring this checkout through a replace), the stock go
// command builds it as it stands, and the program serves GET / through hosted mode's
// forwarded port, then stops cleanly when asked.
func TestScaffoldHosted(t *testing.T) {
	repo := checkout(t)
	dir := filepath.Join(t.TempDir(), "web")
	code, out, errOut := run(t, t.TempDir(), "new", "-replace", repo, dir)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "made "+dir)
	_, err := os.Stat(filepath.Join(dir, "go.sum"))
	require.NoError(t, err, "go mod tidy filled go.sum")

	gocmd, err := exec.LookPath("go")
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "web")
	build := exec.Command(gocmd, "build", "-o", bin, ".")
	build.Dir = dir
	built, err := build.CombinedOutput()
	require.NoError(t, err, "go build of the new module:\n%s", built)

	// Guards against a hang only; under load the start takes well under a second.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-forward", "127.0.0.1:0-:80")
	r, w, err := os.Pipe()
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = w, w
	require.NoError(t, cmd.Start())
	w.Close()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = cmd.Process.Kill()
			<-waited
		}
		r.Close()
	})
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var console []string
	var addr string
	for ready := false; !ready; {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "the program ended before it was ready:\n%s", strings.Join(console, "\n"))
			console = append(console, l)
			if a, ok := strings.CutPrefix(l, "web: forwarding "); ok {
				addr, _, _ = strings.Cut(a, " ")
			}
			ready = strings.HasPrefix(l, "web: ready on ")
		case <-ctx.Done():
			t.Fatalf("not ready:\n%s", strings.Join(console, "\n"))
		}
	}
	require.NotEmpty(t, addr, "no forwarded port:\n%s", strings.Join(console, "\n"))

	client := &http.Client{Timeout: time.Minute}
	resp, err := client.Get("http://" + addr + "/")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "hello from web (hosted on the simulated Xen)\n", string(body))

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-waited:
		exited = true
		assert.NoError(t, err, "SIGTERM stops it cleanly")
	case <-ctx.Done():
		t.Fatal("still running after SIGTERM")
	}
}
