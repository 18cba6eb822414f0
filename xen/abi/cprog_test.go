// Building and running the C program that prints the headers' values.

package abi

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// cPrelude selects the interface version (without it the headers give the legacy interface, e.g.
// vcpu_time_info without flags) and includes every header a table refers to. The compiler's own
// defines (__x86_64__) select arch-x86/xen-x86_64.h. start_info.h is installed under arch-x86/.
const cPrelude = `#define __XEN_INTERFACE_VERSION__ 0x00040e00
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <xen/xen.h>
#include <xen/errno.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/memory.h>
#include <xen/vcpu.h>
#include <xen/sched.h>
#include <xen/version.h>
#include <xen/hvm/params.h>
#include <xen/hvm/hvm_op.h>
#include <xen/arch-x86/hvm/start_info.h>
#include <xen/io/ring.h>
#include <xen/io/xs_wire.h>
#include <xen/io/xenbus.h>
#include <xen/io/netif.h>
#include <xen/io/console.h>

#define FSIZE(type, field) sizeof(((type *)0)->field)
`

// cValues evaluates every expression of every table once per test binary.
var cValues = sync.OnceValues(func() (map[string]int64, error) {
	return evalC(allExprs())
})

// errSkip marks a missing toolchain or header set, which skips rather than fails the test.
type errSkip struct{ reason string }

func (e errSkip) Error() string { return e.reason }

func evalC(exprs []string) (map[string]int64, error) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		return nil, errSkip{"no C compiler (cc) in PATH"}
	}
	dir, err := os.MkdirTemp("", "xen-abi-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	// Probe first, so that missing headers skip while a wrong expression below fails.
	if out, err := compile(cc, dir, "probe", cPrelude+"int main(void) { return 0; }\n"); err != nil {
		return nil, errSkip{"Xen public headers not usable (apt-get install libxen-dev):\n" + out}
	}

	var src strings.Builder
	src.WriteString(cPrelude)
	src.WriteString("int main(void) {\n")
	for _, e := range exprs {
		fmt.Fprintf(&src, "\tprintf(\"%%s\\t%%lld\\n\", %s, (long long)(%s));\n", strconv.Quote(e), e)
	}
	src.WriteString("\treturn 0;\n}\n")
	if out, err := compile(cc, dir, "abi", src.String()); err != nil {
		return nil, fmt.Errorf("compiling the ABI program: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(dir, "abi")).Output()
	if err != nil {
		return nil, fmt.Errorf("running the ABI program: %v", err)
	}

	vals := make(map[string]int64, len(exprs))
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name, num, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			return nil, fmt.Errorf("bad output line %q", sc.Text())
		}
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad value in %q: %v", sc.Text(), err)
		}
		vals[name] = v
	}
	return vals, sc.Err()
}

func compile(cc, dir, name, src string) (string, error) {
	c := filepath.Join(dir, name+".c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		return "", err
	}
	out, err := exec.Command(cc, "-std=gnu11", "-Wall", "-o", filepath.Join(dir, name), c).CombinedOutput()
	return string(out), err
}

// headerValues returns the C values, skipping the test when they cannot be computed here.
func headerValues(t *testing.T) map[string]int64 {
	t.Helper()
	vals, err := cValues()
	if s, ok := err.(errSkip); ok {
		t.Skip(s.reason)
	}
	if err != nil {
		t.Fatal(err)
	}
	return vals
}
