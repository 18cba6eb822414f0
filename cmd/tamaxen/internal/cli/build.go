// tamaxen build: a Xen PVH image of a main package, with the TamaGo compiler.

package cli

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const buildDoc = `
Builds PACKAGE (default ".") into a Xen PVH image with the TamaGo compiler ($TAMAGO, else
tamago-go on PATH), after checking that the compiler can build this module: go.mod's go and
toolchain lines, tamaxen in the module graph and TamaGo's module at the version tamaxen needs.
Each problem found comes with its fix.

A main package that links no board (nothing in it imports github.com/tamaxen/tamaxen/board/xenpvh,
directly or through package unikernel) gets one through a build overlay; its files stay as they
are. The image is PACKAGE's folder name plus .elf unless -o says otherwise; its size is printed.
Write its xl config with tamaxen xl.`

// image is a built image.
type image struct {
	Path    string
	Size    int64
	Entry   uint32 // the PVH entry point, from the ELF note Xen boots it by
	Package listedPackage
	Board   bool         // the board came from the overlay
	Tamaxen listedModule // tamaxen's module, as the user's module graph has it
}

func runBuild(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "build", "[-o FILE] [-v] [PACKAGE]", buildDoc)
	out := fs.String("o", "", "write the image to `FILE` (default: the package folder's name + .elf)")
	verbose := fs.Bool("v", false, "print the compiler's command line")
	pkg, _, err := packageArg(fs, args)
	if err != nil {
		return err
	}
	img, err := buildImage(ctx, env, pkg, *out, *verbose)
	if err != nil {
		return err
	}
	rel := img.Path
	if r, err := filepath.Rel(env.Dir, img.Path); err == nil && !strings.HasPrefix(r, "..") {
		rel = r
	}
	how := ""
	if img.Board {
		how = ", board supplied by tamaxen build"
	}
	fmt.Fprintf(env.Stdout, "%s: %s (%d bytes), Xen PVH entry %#x%s\n", rel, mib(img.Size), img.Size, img.Entry, how)
	return nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// buildImage checks the module, builds pkg into out (default: the package folder's name +
// .elf in the working directory) and checks that the result has the PVH entry note.
func buildImage(ctx context.Context, env *Env, pkg, out string, verbose bool) (*image, error) {
	c, err := findCompiler(ctx, env)
	if err != nil {
		return nil, err
	}
	tx, err := checkModule(ctx, env, c, env.Dir)
	if err != nil {
		return nil, err
	}
	p, err := listPackage(ctx, env, c, env.Dir, pkg)
	if err != nil {
		return nil, err
	}
	if out == "" {
		out = filepath.Base(p.Dir) + ".elf"
	}
	out = inDir(env.Dir, out)
	img := &image{Path: out, Package: p, Tamaxen: tx}
	args := append(append([]string{"build"}, tamagoFlags...), "-ldflags", imageLdflags(p))
	if needsBoard(p) {
		tmp, err := os.MkdirTemp("", "tamaxen-build-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		ov, err := writeBoardOverlay(p, tmp)
		if err != nil {
			return nil, err
		}
		args = append(args, "-overlay", ov)
		img.Board = true
	}
	args = append(args, "-o", out, pkg)
	if verbose {
		fmt.Fprintf(env.Stderr, "%s %s %s\n", strings.Join(c.env(), " "), c.Path, shellJoin(args))
	}
	cmd := exec.CommandContext(ctx, c.Path, args...)
	cmd.Dir = env.Dir
	cmd.Env = withEnv(env.Environ(), c.env()...)
	cmd.Stdout, cmd.Stderr = env.Stderr, env.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s build %s: %w", c.Path, pkg, err)
	}
	st, err := os.Stat(out)
	if err != nil {
		return nil, err
	}
	img.Size = st.Size()
	if img.Entry, err = pvhEntry(out); err != nil {
		return nil, fmt.Errorf("%s: %w", out, err)
	}
	return img, nil
}

// shellJoin quotes what a shell would split.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"$\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// XEN_ELFNOTE_PHYS32_ENTRY (public/elfnote.h): the 32-bit physical entry point of a PVH guest.
// An image without it is no PVH kernel: xl create refuses it.
const xenElfnotePhys32Entry = 18

// pvhEntry returns the PVH entry point from the image's Xen ELF notes.
func pvhEntry(path string) (uint32, error) {
	f, err := elf.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		data, err := io.ReadAll(p.Open())
		if err != nil {
			return 0, err
		}
		for len(data) >= 12 {
			namesz, descsz, typ := binary.LittleEndian.Uint32(data), binary.LittleEndian.Uint32(data[4:]), binary.LittleEndian.Uint32(data[8:])
			data = data[12:]
			nlen, dlen := align4(namesz), align4(descsz)
			if nlen+dlen > uint64(len(data)) {
				break
			}
			name, desc := data[:namesz], data[nlen:nlen+uint64(descsz)]
			data = data[nlen+dlen:]
			if string(name) == "Xen\x00" && typ == xenElfnotePhys32Entry && len(desc) >= 4 {
				return binary.LittleEndian.Uint32(desc), nil
			}
		}
	}
	return 0, errors.New("no Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): not a PVH image, the board is not linked")
}

func align4(n uint32) uint64 { return (uint64(n) + 3) &^ 3 }
