// The conformance test: every table entry's Go value must equal what the C headers say.

package abi

import "testing"

// check pairs a C expression, which names the field or constant in failure messages, with the
// value the Go code uses for it.
type check struct {
	expr string
	goV  int64
}

type integer interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr
}

// eq is the one-line wiring of a constant: eq("offsetof(struct evtchn_send, port)", evtchn.X).
// Values beyond int64 wrap the same way on both sides (C prints them cast to long long).
func eq[T integer](expr string, v T) check { return check{expr, int64(v)} }

// table is one group of checks, run as one subtest.
type table struct {
	name   string
	checks []check
}

// tables lists every group. The tables live in the files named after what they cover:
// ours_test.go (evtchn, gnttab, xen), others_test.go and boot_test.go (the other packages),
// netif_test.go (io/netif.h).
func tables() []table {
	return []table{
		{"xen", xenChecks},
		{"evtchn", evtchnChecks},
		{"gnttab", gnttabChecks},
		{"hypercall", hypercallChecks},
		{"pvclock", pvclockChecks},
		{"console", consoleChecks},
		{"xenstore", xenstoreChecks},
		{"start_info", startInfoChecks},
		{"hypercall_numbers", hypercallNumberChecks},
		{"ring", ringChecks},
		{"xenbus", xenbusChecks},
		{"netif", netifChecks},
	}
}

func allExprs() []string {
	seen := map[string]bool{}
	var exprs []string
	for _, tb := range tables() {
		for _, c := range tb.checks {
			if !seen[c.expr] {
				seen[c.expr] = true
				exprs = append(exprs, c.expr)
			}
		}
	}
	return exprs
}

func TestABI(t *testing.T) {
	vals := headerValues(t)
	for _, tb := range tables() {
		t.Run(tb.name, func(t *testing.T) {
			for _, c := range tb.checks {
				cv, ok := vals[c.expr]
				if !ok {
					t.Errorf("%s: the C program printed no value", c.expr)
					continue
				}
				if cv != c.goV {
					t.Errorf("ABI MISMATCH %s: Go has %d (%#x), the C headers say %d (%#x)",
						c.expr, c.goV, uint64(c.goV), cv, uint64(cv))
				}
			}
		})
	}
}

// TestTablesConsistent catches a C expression listed twice with different Go values, which
// would mean two packages disagree even if one of them is not wired yet.
func TestTablesConsistent(t *testing.T) {
	first := map[string]check{}
	where := map[string]string{}
	for _, tb := range tables() {
		for _, c := range tb.checks {
			if p, ok := first[c.expr]; ok && p.goV != c.goV {
				t.Errorf("%s: %d in %s, %d in %s", c.expr, p.goV, where[c.expr], c.goV, tb.name)
			}
			first[c.expr], where[c.expr] = c, tb.name
		}
	}
}
