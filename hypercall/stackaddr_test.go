// A vet-style guard: no address of memory that may move is turned into a uintptr.

package hypercall

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// guardedDirs are the packages that hand addresses to Xen: this one, and the board.
var guardedDirs = []string{".", "../board/xenpvh"}

// TestNoMovableAddressAsUintptr parses every source file of the guarded packages, whatever
// its build tags (the tamago files included), and fails on uintptr(unsafe.Pointer(x)) where x
// is not rooted in a package-level variable.
//
// Why: a goroutine stack moves when it grows, and the runtime fixes up typed pointers into it
// but not uintptrs. An argument buffer on the stack whose address became a uintptr before a
// call that may grow the stack (any function that is not nosplit) leaves Xen reading and
// writing the old stack. Package-level variables never move; buffers handed to Xen must reach
// the assembly stub as typed pointers (a slice argument), so the compiler and the stack copier
// know about them. Reducing an address modulo an alignment (x % n) is an offset, not an
// address, and is allowed.
func TestNoMovableAddressAsUintptr(t *testing.T) {
	var found []string
	for _, dir := range guardedDirs {
		found = append(found, movableUintptrs(t, dir)...)
	}
	assert.Empty(t, found, "addresses of memory that may move, converted to uintptr")
}

// The guard itself must catch the pattern it is for, and leave the allowed ones alone.
func TestMovableUintptrGuard(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		bad  int
	}{
		{"slice parameter", `func f(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }`, 1},
		{"local array", `func f() { var a [8]byte; g(uintptr(unsafe.Pointer(&a))) }`, 1},
		{"local shadows global", `var a [8]byte
			func f() { var a [8]byte; g(uintptr(unsafe.Pointer(&a[0]))) }`, 1},
		{"slice data of a local", `func f() { b := make([]byte, 8); g(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }`, 1},
		{"package-level array", `var a [8192]byte
			func f() uintptr { return uintptr(unsafe.Pointer(&a[4096])) >> 12 }`, 0},
		{"alignment offset", `func f(b []byte) int { return int(uintptr(unsafe.Pointer(&b[0])) % 4096) }`, 0},
		{"integer", `func f(n int) uintptr { return uintptr(n) }`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := "package p\nimport \"unsafe\"\nvar _ = unsafe.Pointer(nil)\nfunc g(uintptr) {}\n" + tc.src + "\n"
			require.NoError(t, os.WriteFile(filepath.Join(dir, "p.go"), []byte(src), 0o644))
			assert.Len(t, movableUintptrs(t, dir), tc.bad)
		})
	}
}

// movableUintptrs returns file:line for each offending conversion in dir's non-test files.
func movableUintptrs(t *testing.T, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	require.NoError(t, err)
	require.NotEmpty(t, pkgs, "no Go files in %s", dir)
	var out []string
	for _, pkg := range pkgs {
		// Package-level variables, by name and by declaration, across all files.
		globals := map[string]bool{}
		globalSpecs := map[*ast.ValueSpec]bool{}
		for _, f := range pkg.Files {
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.VAR {
					continue
				}
				for _, s := range gd.Specs {
					vs := s.(*ast.ValueSpec)
					globalSpecs[vs] = true
					for _, n := range vs.Names {
						globals[n.Name] = true
					}
				}
			}
		}
		imports := func(f *ast.File) map[string]bool {
			m := map[string]bool{}
			for _, im := range f.Imports {
				p := strings.Trim(im.Path.Value, `"`)
				name := p[strings.LastIndex(p, "/")+1:]
				if im.Name != nil {
					name = im.Name.Name
				}
				m[name] = true
			}
			return m
		}
		for _, f := range pkg.Files {
			imp := imports(f)
			static := func(id *ast.Ident) bool {
				if id.Obj != nil {
					// Resolved within the file: static only if it is a top-level var.
					vs, ok := id.Obj.Decl.(*ast.ValueSpec)
					return ok && globalSpecs[vs]
				}
				return globals[id.Name]
			}
			var stack []ast.Node
			ast.Inspect(f, func(n ast.Node) bool {
				if n == nil {
					stack = stack[:len(stack)-1]
					return true
				}
				stack = append(stack, n)
				call, ok := n.(*ast.CallExpr)
				if !ok || !isIdent(call.Fun, "uintptr") || len(call.Args) != 1 {
					return true
				}
				ptr, ok := unparen(call.Args[0]).(*ast.CallExpr)
				if !ok || !isSel(ptr.Fun, "unsafe", "Pointer") || len(ptr.Args) != 1 {
					return true
				}
				if parent := parentExpr(stack); parent != nil && parent.Op == token.REM {
					return true // an offset within an alignment
				}
				root, qualified := rootOf(ptr.Args[0])
				if qualified != "" && imp[qualified] {
					return true // another package's variable
				}
				if root != nil && static(root) {
					return true
				}
				out = append(out, fset.Position(call.Pos()).String())
				return true
			})
		}
	}
	return out
}

// rootOf strips &, indexing, slicing, field selection, dereference and unsafe.SliceData down
// to the variable the address is taken in. qualified is set for pkg.Var.
func rootOf(e ast.Expr) (root *ast.Ident, qualified string) {
	for {
		switch x := e.(type) {
		case *ast.ParenExpr:
			e = x.X
		case *ast.UnaryExpr:
			if x.Op != token.AND {
				return nil, ""
			}
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.SliceExpr:
			e = x.X
		case *ast.StarExpr:
			e = x.X
		case *ast.SelectorExpr:
			if id, ok := x.X.(*ast.Ident); ok && id.Obj == nil {
				// pkg.Var, or a field of a variable declared in another file.
				return id, id.Name
			}
			e = x.X
		case *ast.CallExpr:
			if !isSel(x.Fun, "unsafe", "SliceData") || len(x.Args) != 1 {
				return nil, ""
			}
			e = x.Args[0]
		case *ast.Ident:
			return x, ""
		default:
			return nil, ""
		}
	}
}

// parentExpr returns the binary expression directly around the node on top of stack, if any.
func parentExpr(stack []ast.Node) *ast.BinaryExpr {
	for i := len(stack) - 2; i >= 0; i-- {
		switch p := stack[i].(type) {
		case *ast.ParenExpr:
			continue
		case *ast.BinaryExpr:
			return p
		}
		return nil
	}
	return nil
}

func unparen(e ast.Expr) ast.Expr {
	for {
		p, ok := e.(*ast.ParenExpr)
		if !ok {
			return e
		}
		e = p.X
	}
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := unparen(e).(*ast.Ident)
	return ok && id.Name == name
}

func isSel(e ast.Expr, pkg, name string) bool {
	s, ok := unparen(e).(*ast.SelectorExpr)
	return ok && isIdent(s.X, pkg) && s.Sel.Name == name
}
