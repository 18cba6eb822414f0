// tamaxen run: the program hosted, as a Linux process over the simulated Xen.

package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

const runDoc = `
Runs PACKAGE (default ".") hosted: built for this machine by the stock go command, its netfront
driver and network stack run over the simulated Xen, and a userspace stack in dom0's place
serves DHCP and relays ports of 127.0.0.1 to the guest (package unikernel); no root, no Xen.
Arguments after -- go to the program: -forward 127.0.0.1:9090-:80, -cmdline 'ip=10.0.0.2/24',
-pcap FILE, -queues N, -stats 5s, -tap DEV. Ctrl-C stops it; tamaxen exits with its status.`

func runHosted(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "run", "[PACKAGE] [-- program arguments]", runDoc)
	pkg, rest, err := packageArg(fs, args)
	if err != nil {
		return err
	}
	gocmd, err := env.LookPath("go")
	if err != nil {
		return fixf([]string{"install Go " + GoDirective + " or later: https://go.dev/dl/"}, "no go command on PATH: %v", err)
	}
	tmp, err := os.MkdirTemp("", "tamaxen-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	name := filepath.Base(pkg)
	if pkg == "." || strings.HasSuffix(pkg, "/.") {
		name = filepath.Base(filepath.Join(env.Dir, pkg))
	}
	bin := filepath.Join(tmp, name)
	hostEnv := hostedEnv(env.Environ())
	build := exec.CommandContext(ctx, gocmd, "build", "-o", bin, pkg)
	build.Dir, build.Env = env.Dir, hostEnv
	build.Stdout, build.Stderr = env.Stderr, env.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	return runAttached(env, env.Dir, hostEnv, bin, rest...)
}

// hostedEnv is the environment of a hosted build: a GOOS=tamago left in the shell from a
// TamaGo build would make the stock go command build for TamaGo.
func hostedEnv(base []string) []string {
	var out []string
	tamago := false
	for _, kv := range base {
		if kv == "GOOS=tamago" {
			tamago = true
		}
	}
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if tamago && (k == "GOOS" || k == "GOARCH" || k == "GOOSPKG") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// runAttached runs a program on tamaxen's terminal until it ends, and returns its exit status
// as an exitError. Ctrl-C reaches the terminal's whole process group, the program too, so
// tamaxen ignores SIGINT and waits for the program to stop by itself (as go run does); SIGTERM
// and SIGHUP sent to tamaxen alone are passed on.
func runAttached(env *Env, dir string, environ []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, environ
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, env.Stdout, env.Stderr
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			if s != os.Interrupt {
				_ = cmd.Process.Signal(s)
			}
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code := ee.ExitCode()
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					code = 128 + int(ws.Signal())
				}
				return exitError{code}
			}
			return err
		}
	}
}
