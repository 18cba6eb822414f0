// go.mod: the few directives tamaxen reads, and whether the TamaGo compiler accepts them.

package cli

import (
	"bytes"
	"fmt"
	"go/version"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// goMod is what tamaxen reads of a go.mod file.
type goMod struct {
	Module    string
	Go        string            // the go directive, "1.26.0"
	Toolchain string            // the toolchain directive, "go1.26.8"
	Require   map[string]string // module path -> version
}

// parseGoMod reads the module, go, toolchain and require directives of a go.mod file, in their
// one-line and block forms; every other directive is skipped. It is no validator: the go command
// itself says what else is wrong with a file.
func parseGoMod(data []byte) (goMod, error) {
	m := goMod{Require: map[string]string{}}
	block := ""
	for n, line := range bytes.Split(data, []byte("\n")) {
		if i := bytes.Index(line, []byte("//")); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(string(line))
		if len(f) == 0 {
			continue
		}
		if block != "" {
			if f[0] == ")" {
				block = ""
				continue
			}
			f = append([]string{block}, f...)
		} else if len(f) == 2 && f[1] == "(" {
			block = f[0]
			continue
		}
		arg := func(i int) (string, error) {
			if i >= len(f) {
				return "", fmt.Errorf("go.mod:%d: %s: missing argument", n+1, f[0])
			}
			s := f[i]
			if strings.HasPrefix(s, `"`) || strings.HasPrefix(s, "`") {
				u, err := strconv.Unquote(s)
				if err != nil {
					return "", fmt.Errorf("go.mod:%d: %w", n+1, err)
				}
				s = u
			}
			return s, nil
		}
		var err error
		switch f[0] {
		case "module":
			m.Module, err = arg(1)
		case "go":
			m.Go, err = arg(1)
		case "toolchain":
			m.Toolchain, err = arg(1)
		case "require":
			var path, v string
			if path, err = arg(1); err == nil {
				if v, err = arg(2); err == nil {
					m.Require[path] = v
				}
			}
		}
		if err != nil {
			return goMod{}, err
		}
	}
	return m, nil
}

// readGoMod parses the go.mod file at path.
func readGoMod(path string) (goMod, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return goMod{}, err
	}
	m, err := parseGoMod(data)
	if err != nil {
		return goMod{}, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// findGoMod returns the go.mod that governs dir: the go command's main module.
func findGoMod(dir string) (string, error) {
	for d := dir; ; {
		p := filepath.Join(d, "go.mod")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", fixf([]string{"tamaxen new DIR makes a module ready to build", "or: go mod init MODULE && go mod edit -go=" + GoDirective},
				"no go.mod in %s or any folder above it", dir)
		}
		d = up
	}
}

// checkGoVersions says whether the TamaGo compiler (compiler, its GOVERSION, "go1.26.0") can
// build the module of go.mod m, read from file, and how to fix the file when it cannot. A go
// directive newer than the compiler stops it outright ("go.mod requires go >= ..."); a newer
// toolchain line makes the go command, whenever GOTOOLCHAIN is auto (its default), switch to a
// stock toolchain of that version, which knows no GOOS=tamago.
func checkGoVersions(file string, m goMod, compiler string) error {
	lang := strings.TrimPrefix(compiler, "go")
	if m.Go != "" {
		if !version.IsValid("go" + m.Go) {
			return fixf([]string{"set `go " + lang + "` in go.mod: go mod edit -go=" + lang},
				"%s says `go %s`, which is not a Go version", file, m.Go)
		}
		if version.Compare("go"+m.Go, compiler) > 0 {
			return fixf([]string{"set `go " + lang + "` in go.mod: go mod edit -go=" + lang},
				"%s says `go %s`, newer than the TamaGo compiler (%s), which refuses to build it (go.mod requires go >= %s)",
				file, m.Go, compiler, m.Go)
		}
	}
	if m.Toolchain != "" && m.Toolchain != "default" && version.IsValid(m.Toolchain) &&
		version.Compare(m.Toolchain, compiler) > 0 {
		return fixf([]string{"drop the toolchain line: go mod edit -toolchain=none"},
			"%s says `toolchain %s`, newer than the TamaGo compiler (%s): the go command would switch to a stock %s, which cannot build GOOS=tamago",
			file, m.Toolchain, compiler, m.Toolchain)
	}
	return nil
}
