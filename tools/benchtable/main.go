// Command benchtable prints `go test -bench` output as a table of the datapath's figures:
// packets per second, Gbit/s, ns per packet, allocations per op, copies of each byte and the
// rate relative to memmove. It reads the benchmark output on stdin (several packages, and
// -count repetitions, whose median it shows) and writes the table on stdout.
//
//	go test -run '^$' -bench . -benchmem ./netfront | go run ./tools/benchtable
//
// The columns come from the metrics the benchmarks report: pkts/s, Gbit/s (else MB/s × 8/1000),
// mallocs/op (the exact count; else go test's allocs/op, truncated to an integer), copies and
// x-memmove; ns/pkt is ns/op for benchmarks whose op is one packet (those reporting pkts/s);
// for the others ns/op goes in the last column, with any other metric (frames/op).
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

func main() {
	rows, err := parse(os.Stdin)
	if err == nil && len(rows) == 0 {
		err = fmt.Errorf("no benchmark results on stdin")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	if err := write(os.Stdout, rows); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

// row is one benchmark: its package, its name without the Benchmark prefix and the -GOMAXPROCS
// suffix, and every value seen per unit (one per -count run), in the order units first appear.
type row struct {
	pkg, name string
	units     []string
	values    map[string][]float64
}

func (r *row) median(unit string) (float64, bool) {
	v := slices.Clone(r.values[unit])
	if len(v) == 0 {
		return 0, false
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2], true
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2, true
}

// parse reads benchmark lines ("BenchmarkX-2  N  v unit  v unit ...") and the "pkg:" lines
// that say which package they belong to; everything else is ignored.
func parse(in io.Reader) ([]*row, error) {
	var rows []*row
	byName := map[string]*row{}
	pkg := ""
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue // a benchmark's log line, not a result
		}
		name := trimProcs(strings.TrimPrefix(f[0], "Benchmark"))
		key := pkg + " " + name
		r := byName[key]
		if r == nil {
			r = &row{pkg: pkg, name: name, values: map[string][]float64{}}
			byName[key] = r
			rows = append(rows, r)
		}
		for i := 2; i < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: value %q: %w", f[0], f[i], err)
			}
			unit := f[i+1]
			if _, seen := r.values[unit]; !seen {
				r.units = append(r.units, unit)
			}
			r.values[unit] = append(r.values[unit], v)
		}
	}
	return rows, sc.Err()
}

// trimProcs drops the -N suffix go test adds for GOMAXPROCS.
func trimProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}

// shown are the units with a column of their own (or folded into one).
var shown = map[string]bool{"pkts/s": true, "Gbit/s": true, "MB/s": true, "ns/op": true,
	"allocs/op": true, "B/op": true, "mallocs/op": true, "mbytes/op": true, "copies": true, "x-memmove": true}

func write(out io.Writer, rows []*row) error {
	// tabwriter aligns every cell right: the names, padded here, read left-aligned. Text after
	// the last tab (other) is not a cell and stays left-aligned too.
	w := len("benchmark")
	for _, r := range rows {
		w = max(w, len(shortPkg(r.pkg))+1, 2+len(r.name))
	}
	pad := func(s string) string { return s + strings.Repeat(" ", w-len(s)) }
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tpkts/s\tGbit/s\tns/pkt\tallocs/op\tcopies\tx memmove\t  other\n", pad("benchmark"))
	pkg := ""
	for _, r := range rows {
		if r.pkg != pkg {
			pkg = r.pkg
			fmt.Fprintf(tw, "%s\t\t\t\t\t\t\t\n", pad(shortPkg(pkg)+":"))
		}
		cell := func(unit string, format func(float64) string) string {
			if v, ok := r.median(unit); ok {
				return format(v)
			}
			return "-"
		}
		_, perPacket := r.median("pkts/s")
		gbit := cell("Gbit/s", sig3)
		if gbit == "-" {
			gbit = cell("MB/s", func(v float64) string { return sig3(v * 8 / 1000) })
		}
		allocs := cell("mallocs/op", sig3)
		if allocs == "-" {
			allocs = cell("allocs/op", sig3)
		}
		nsPkt := "-"
		var other []string
		if perPacket {
			nsPkt = cell("ns/op", sig3)
		} else {
			other = append(other, cell("ns/op", sig3)+" ns/op")
		}
		for _, u := range r.units {
			if !shown[u] {
				v, _ := r.median(u)
				other = append(other, sig3(v)+" "+u)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t  %s\n", pad("  "+r.name), cell("pkts/s", si), gbit, nsPkt,
			allocs, cell("copies", sig3), cell("x-memmove", sig3), strings.Join(other, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprint(out, "\nx memmove: the path's byte rate over copy()'s for the same size on this host; "+
		"a path that copies each byte k times tops out near 1/k.\n"+
		"Rows without pkts/s count ns per op in other: a round trip (PingPong), a 64 KiB write (TCP).\n")
	return err
}

// shortPkg is the last element of an import path.
func shortPkg(p string) string {
	if p == "" {
		return "(no package)"
	}
	return p[strings.LastIndexByte(p, '/')+1:]
}

// sig3 formats v with three significant digits (all the integer digits from 1000 up), never
// with an exponent.
func sig3(v float64) string {
	if abs(v) >= 1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// si formats a rate with a k/M/G suffix and three significant digits.
func si(v float64) string {
	for _, s := range []struct {
		div    float64
		suffix string
	}{{1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if abs(v) >= s.div {
			return sig3(v/s.div) + s.suffix
		}
	}
	return sig3(v)
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
