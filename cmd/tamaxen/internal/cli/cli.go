// Package cli is the tamaxen command: scaffolding a unikernel module, building it with the
// TamaGo compiler, writing its xl config, running it hosted or on Xen in QEMU, and checking the
// machine for all of that. cmd/tamaxen only calls Main; everything here is tested with fakes for
// the environment where the real one would need Xen, root or the TamaGo compiler.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Env is what the commands take from the machine. OSEnv is the real one; tests replace parts.
type Env struct {
	Stdout, Stderr io.Writer
	// Dir is the working directory the command runs in.
	Dir string
	// Environ is the process environment handed to the commands tamaxen runs.
	Environ  func() []string
	Getenv   func(string) string
	LookPath func(string) (string, error)
	// Output runs a command in dir with env added to Environ and returns its standard output;
	// its standard error is in the error.
	Output func(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, error)
	// Geteuid, FreeBytes (free space of the file system holding path) and CacheDir (the
	// per-user cache folder) are for doctor and xen-run.
	Geteuid   func() int
	FreeBytes func(path string) (uint64, error)
	CacheDir  func() (string, error)
}

// OSEnv is the environment of this process.
func OSEnv() *Env {
	dir, _ := os.Getwd()
	return &Env{
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		Dir:       dir,
		Environ:   os.Environ,
		Getenv:    os.Getenv,
		LookPath:  exec.LookPath,
		Output:    output,
		Geteuid:   os.Geteuid,
		FreeBytes: freeBytes,
		CacheDir:  cacheDir,
	}
}

// cacheDir is where tamaxen keeps what it makes for the user: the QEMU/Xen image's scripts
// (xen-run) and, through them, the image itself.
func cacheDir() (string, error) {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return d, nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return h + "/.cache", nil
}

func output(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return out, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
		}
		return out, fmt.Errorf("%s", msg)
	}
	return out, nil
}

// FixError is a problem tamaxen found and what the user can do about it: each fix is a line the
// user can act on, most often a command.
type FixError struct {
	Problem string
	Fixes   []string
}

func (e *FixError) Error() string {
	var b strings.Builder
	b.WriteString(e.Problem)
	for _, f := range e.Fixes {
		b.WriteString("\n  fix: ")
		b.WriteString(strings.ReplaceAll(f, "\n", "\n       "))
	}
	return b.String()
}

func fixf(fixes []string, format string, args ...any) error {
	return &FixError{Problem: fmt.Sprintf(format, args...), Fixes: fixes}
}

// errUsage means the arguments were wrong; the command has printed its usage already.
var errUsage = errors.New("usage")

// exitError ends tamaxen with a status of its own (a program's exit status passed through).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

type command struct {
	name, args, summary string
	run                 func(ctx context.Context, env *Env, args []string) error
}

func commands() []command {
	return []command{
		{"new", "DIR [-module PATH]", "make a module for a unikernel of your own: main.go, the board, an xl config", runNew},
		{"build", "[-o FILE] [PACKAGE]", "build a Xen PVH image with the TamaGo compiler", runBuild},
		{"xl", "[flags] FILE.elf", "write an xl config for an image", runXL},
		{"run", "[PACKAGE] [-- program flags]", "run the program hosted: a Linux process over the simulated Xen", runHosted},
		{"xen-run", "[flags] [PACKAGE]", "build the program and boot it on real Xen inside QEMU, reachable on 127.0.0.1", runXen},
		{"doctor", "", "check what the other commands need, and say how to get what is missing", runDoctor},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "tamaxen makes, builds and runs Go unikernels for Xen PVH (TamaGo, netfront, gVisor).")
	fmt.Fprintln(w, "\nUsage: tamaxen COMMAND [flags] [arguments]   (tamaxen COMMAND -h for its flags)")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nA first unikernel: tamaxen new hello && cd hello && tamaxen run")
}

// Main runs the command line args (without the program name) and returns the exit status.
func Main(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 {
		usage(env.Stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(env.Stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, env, args[1:])
		var ee exitError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		case errors.As(err, &ee):
			return ee.code
		}
		fmt.Fprintf(env.Stderr, "tamaxen %s: %v\n", c.name, err)
		return 1
	}
	fmt.Fprintf(env.Stderr, "tamaxen: unknown command %q\n\n", args[0])
	usage(env.Stderr)
	return 2
}

// newFlags makes a command's flag set; its usage names the command, its arguments and says
// what it does (the doc).
func newFlags(env *Env, name, args, doc string) *flag.FlagSet {
	fs := flag.NewFlagSet("tamaxen "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: tamaxen %s %s\n\n%s\n", name, args, strings.TrimSpace(doc))
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseArgs parses flags given before, between and after the positional arguments, as far as
// "--"; it returns the positional arguments and those after "--" (nil without one).
func parseArgs(fs *flag.FlagSet, args []string) (pos, rest []string, err error) {
	for i, a := range args {
		if a == "--" {
			rest = append([]string{}, args[i+1:]...)
			args = args[:i]
			break
		}
	}
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(io.Discard) // printed already
				return nil, nil, err
			}
			return nil, nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, rest, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// packageArg parses args for a command on one optional package (default "."): the package
// and the arguments after --.
func packageArg(fs *flag.FlagSet, args []string) (pkg string, rest []string, err error) {
	pos, rest, err := parseArgs(fs, args)
	if err != nil {
		return "", nil, err
	}
	switch len(pos) {
	case 0:
		return ".", rest, nil
	case 1:
		return pos[0], rest, nil
	}
	fs.Usage()
	return "", nil, errUsage
}

// oneArg parses args for a command on exactly one file or folder, which it returns as given.
func oneArg(fs *flag.FlagSet, args []string) (string, error) {
	pos, _, err := parseArgs(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		fs.Usage()
		return "", errUsage
	}
	return pos[0], nil
}

// inDir returns path, made absolute against dir when it is relative.
func inDir(dir, path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// withEnv returns base with the variables of set replacing any of the same name.
func withEnv(base []string, set ...string) []string {
	drop := map[string]bool{}
	for _, kv := range set {
		k, _, _ := strings.Cut(kv, "=")
		drop[k] = true
	}
	var out []string
	for _, kv := range base {
		if k, _, _ := strings.Cut(kv, "="); !drop[k] {
			out = append(out, kv)
		}
	}
	return append(out, set...)
}
