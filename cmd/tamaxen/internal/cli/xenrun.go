// tamaxen xen-run: the program on real Xen, inside the QEMU/Xen test image.

package cli

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

const xenRunDoc = `
Builds PACKAGE (default ".") as tamaxen build does and boots it on real Xen: Xen and a Debian
dom0 inside QEMU (software emulation, no KVM: about a minute to boot), the image make xen-test
uses. QEMU forwards the host's 127.0.0.1:PORT to dom0, where socat relays it to the guest at
10.0.0.2 on dom0's bridge, so http://127.0.0.1:PORT/ is answered by the unikernel on Xen.
Ctrl-C stops it all.

The guest's xl config is tamaxen xl's, with extra = "ip=10.0.0.2/24 gw=10.0.0.1 ..." (-extra
adds to it). The relay starts once the console says "NAME: ready": NAME (-name, default the
package folder's name) must be the program's unikernel.Options.Name, as in tamaxen new's main.go.

The first run builds the image from Debian packages (about 2 minutes, as root: debootstrap, and
apt-get for QEMU when missing); later runs reuse it from ~/.cache/tamaxen/xen-image. XEN_VERSION
picks the Xen release where tamaxen's tools/xenimage offers several. The scripts are those of the
tamaxen module this module requires (tools/xenimage, tools/xentest/xen-run); tamaxen doctor
checks what they need.`

func runXen(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "xen-run", "[-name NAME] [-port PORT] [-guest-port PORT] [-memory MiB] [-extra ARGS] [PACKAGE]", xenRunDoc)
	name := fs.String("name", "", "the program's `name`: its console says NAME: ready (default: the package folder's name)")
	port := fs.Int("port", 8080, "the host's `port` on 127.0.0.1 that reaches the guest")
	guestPort := fs.Int("guest-port", 80, "the guest's TCP `port` it reaches")
	memory := fs.Int("memory", 64, "guest memory in `MiB`")
	extra := fs.String("extra", "", "more of the guest command line, e.g. stats=5s")
	pkg, _, err := packageArg(fs, args)
	if err != nil {
		return err
	}
	if *port <= 0 || *port > 65535 || *guestPort <= 0 || *guestPort > 65535 {
		fs.Usage()
		return errUsage
	}
	payload, err := os.MkdirTemp("", "tamaxen-xen-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(payload)
	img, err := buildImage(ctx, env, pkg, filepath.Join(payload, "image.elf"), false)
	if err != nil {
		return err
	}
	if *name == "" {
		*name = programName(img.Package.Dir)
	}
	cfg := xlConfig{Name: *name, Kernel: *name + ".elf", Memory: *memory, MAC: defaultMAC(*name), Bridge: "xenbr0",
		Extra: strings.TrimSpace("ip=10.0.0.2/24 gw=10.0.0.1 ip6=fd00::2/64 " + *extra)}
	if err := cfg.validate(); err != nil {
		return err
	}
	if err := os.Rename(img.Path, filepath.Join(payload, cfg.Kernel)); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(payload, cfg.Name+".cfg"), cfg.render(cfg.Name+".cfg"), 0o644); err != nil {
		return err
	}
	tree, err := xenTools(env, img.Tamaxen)
	if err != nil {
		return err
	}
	script, err := os.ReadFile(filepath.Join(tree, "tools/xentest/xen-run/test.sh"))
	if err != nil {
		return err
	}
	runEnv := fmt.Sprintf("XEN_RUN_EXAMPLE=%s\nXEN_RUN_GUEST_PORT=%d\nXEN_RUN_URL=http://127.0.0.1:%d/\n", cfg.Name, *guestPort, *port)
	if err := os.WriteFile(filepath.Join(payload, "test.sh"), script, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(payload, "xen-run.env"), []byte(runEnv), 0o644); err != nil {
		return err
	}
	log := filepath.Join(tree, "build", "xen-run-"+cfg.Name+".log")
	fmt.Fprintf(env.Stderr, "tamaxen xen-run: %s (%s); Xen's serial log goes to %s\n", cfg.Kernel, mib(img.Size), log)
	return runAttached(env, env.Dir, env.Environ(), "bash", filepath.Join(tree, "tools/xenimage/run.sh"),
		"--timeout", "0", "--hostfwd", fmt.Sprintf("tcp:127.0.0.1:%d-:80", *port), "--log", log, payload)
}

// xenTools returns a folder holding tamaxen's tools/xenimage and tools/xentest/xen-run where
// run.sh may write (it keeps its logs and work files in build/ next to tools/): tamaxen's own
// folder when it is a checkout (the main module, or a replace by a folder), else a copy of
// those scripts in the cache, since the module cache is read-only, and must stay unmodified
// for go mod verify.
func xenTools(env *Env, tx listedModule) (string, error) {
	if tx.Main || (tx.Replace != nil && tx.Replace.Version == "") {
		return tx.Dir, nil
	}
	cache, err := env.CacheDir()
	if err != nil {
		return "", err
	}
	dst := filepath.Join(cache, "tamaxen", "tools", filepath.Base(tx.Dir))
	if _, err := os.Stat(filepath.Join(dst, "tools/xenimage/run.sh")); err == nil {
		return dst, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".copy-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for _, d := range []string{"tools/xenimage", "tools/xentest/xen-run"} {
		if err := copyTree(filepath.Join(tx.Dir, d), filepath.Join(tmp, d)); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		if _, serr := os.Stat(filepath.Join(dst, "tools/xenimage/run.sh")); serr == nil {
			return dst, nil // another run copied it meanwhile
		}
		return "", err
	}
	return dst, nil
}

// copyTree copies the files under src to dst. The module cache keeps no file modes: a file
// that starts with "#!" is made executable.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if bytes.HasPrefix(data, []byte("#!")) {
			mode = 0o755
		}
		return os.WriteFile(to, data, mode)
	})
}
