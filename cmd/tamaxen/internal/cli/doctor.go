// tamaxen doctor: what the other commands need, and how to get what is missing.

package cli

import (
	"context"
	"errors"
	"fmt"
	"go/version"
	"os"
	"path/filepath"
	"strings"
)

const doctorDoc = `
Checks what the other commands need: Go (new, run), the TamaGo compiler and its version
(build, xen-run), and for xen-run QEMU, root to build the QEMU/Xen image unless one is cached,
and disk space for it. Prints one line per check, and under each missing piece its fix; exits
with status 1 if anything is missing.`

// minImageDisk is the free space xen-run wants where the image is cached: an image and its
// debootstrap stage take about 400 MiB per Xen release, the build as much again while it runs.
const minImageDisk = 2 << 30

// check is one line of doctor's report.
type check struct {
	Name   string // what is checked, "tamago-go"
	For    string // the commands that need it
	OK     bool
	Detail string // what was found, or what is wrong
	Fixes  []string
}

func doctorChecks(ctx context.Context, env *Env) []check {
	return []check{checkGo(ctx, env), checkTamago(ctx, env), checkQEMU(env), checkRoot(env), checkDisk(env)}
}

func checkGo(ctx context.Context, env *Env) check {
	c := check{Name: "go", For: "new, run", Fixes: []string{"install Go " + GoDirective + " or later: https://go.dev/dl/"}}
	path, err := env.LookPath("go")
	if err != nil {
		c.Detail = "no go command on PATH"
		return c
	}
	out, err := env.Output(ctx, env.Dir, nil, path, "env", "GOVERSION")
	if err != nil {
		c.Detail = fmt.Sprintf("%s env GOVERSION: %v", path, err)
		return c
	}
	v := goVersion(string(out))
	c.Detail = fmt.Sprintf("%s (%s)", v, path)
	if !version.IsValid(v) || version.Compare(v, "go"+GoDirective) < 0 {
		c.Detail += ", older than go" + GoDirective
		return c
	}
	c.OK, c.Fixes = true, nil
	return c
}

func checkTamago(ctx context.Context, env *Env) check {
	c := check{Name: "tamago-go", For: "build, xen-run"}
	tc, err := findCompiler(ctx, env)
	var fe *FixError
	switch {
	case errors.As(err, &fe):
		c.Detail, c.Fixes = fe.Problem, fe.Fixes
	case err != nil:
		c.Detail, c.Fixes = err.Error(), tamagoSteps
	default:
		c.OK, c.Detail = true, fmt.Sprintf("the TamaGo compiler %s (%s)", tc.Version, tc.Path)
	}
	return c
}

func checkQEMU(env *Env) check {
	c := check{Name: "qemu-system-x86_64", For: "xen-run"}
	if path, err := env.LookPath("qemu-system-x86_64"); err == nil {
		c.OK, c.Detail = true, path
		return c
	}
	c.Detail = "not on PATH"
	c.Fixes = []string{"apt-get install qemu-system-x86 cpio (tamaxen xen-run installs them itself when it runs as root)"}
	return c
}

// imageCache is where tools/xenimage/build.sh keeps its images.
func imageCache(env *Env) (string, error) {
	dir, err := env.CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "tamaxen", "xen-image"), nil
}

func checkRoot(env *Env) check {
	c := check{Name: "root", For: "xen-run, the first time"}
	if env.Geteuid() == 0 {
		c.OK, c.Detail = true, "running as root: the QEMU/Xen image can be built"
		return c
	}
	cache, err := imageCache(env)
	if err == nil {
		if imgs, _ := filepath.Glob(filepath.Join(cache, "*", "image.env")); len(imgs) > 0 {
			c.OK = true
			c.Detail = fmt.Sprintf("not root, but %d QEMU/Xen image(s) cached in %s (a changed image recipe needs root again)", len(imgs), cache)
			return c
		}
	}
	c.Detail = "not root, and no QEMU/Xen image cached"
	c.Fixes = []string{"run the first tamaxen xen-run as root: it builds the image from Debian packages (debootstrap, apt-get; about 2 minutes), which later runs reuse"}
	return c
}

func checkDisk(env *Env) check {
	c := check{Name: "disk", For: "xen-run"}
	cache, err := imageCache(env)
	if err != nil {
		c.Detail = err.Error()
		c.Fixes = []string{"set HOME or XDG_CACHE_HOME: the image is cached under it"}
		return c
	}
	// The nearest folder that exists holds the cache's file system.
	dir := cache
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	free, err := env.FreeBytes(dir)
	if err != nil {
		c.Detail = fmt.Sprintf("free space at %s unknown: %v", dir, err)
		c.Fixes = []string{fmt.Sprintf("make sure %s has %d GiB free", dir, minImageDisk>>30)}
		return c
	}
	c.Detail = fmt.Sprintf("%.1f GiB free for %s", float64(free)/(1<<30), cache)
	if free < minImageDisk {
		c.Fixes = []string{fmt.Sprintf("free %d GiB there, or point XDG_CACHE_HOME at a disk with room", minImageDisk>>30)}
		return c
	}
	c.OK = true
	return c
}

func runDoctor(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "doctor", "", doctorDoc)
	pos, _, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		fs.Usage()
		return errUsage
	}
	missing := 0
	for _, c := range doctorChecks(ctx, env) {
		state := "ok     "
		if !c.OK {
			state = "MISSING"
			missing++
		}
		fmt.Fprintf(env.Stdout, "%s %s: %s (for %s)\n", state, c.Name, c.Detail, c.For)
		for _, f := range c.Fixes {
			fmt.Fprintf(env.Stdout, "  fix: %s\n", strings.ReplaceAll(f, "\n", "\n       "))
		}
	}
	if missing > 0 {
		fmt.Fprintf(env.Stdout, "%d missing\n", missing)
		return exitError{1}
	}
	fmt.Fprintln(env.Stdout, "all there")
	return nil
}
