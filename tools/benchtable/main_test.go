package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/tamaxen/tamaxen/netfront
cpu: AMD EPYC
BenchmarkSimTX/q1/64B-2         	  292728	       826.0 ns/op	  77.48 MB/s	         0.6199 Gbit/s	         3.000 copies	   1210666 pkts/s	         0.004762 x-memmove	       0 B/op	       0 allocs/op
BenchmarkSimTX/q1/64B-2         	  292728	       830.0 ns/op	  77.48 MB/s	         0.6100 Gbit/s	         3.000 copies	   1200000 pkts/s	         0.004700 x-memmove	       0 B/op	       0 allocs/op
BenchmarkSimTX/q1/64B-2         	  292728	       900.0 ns/op	  77.48 MB/s	         0.5000 Gbit/s	         3.000 copies	   1100000 pkts/s	         0.004000 x-memmove	       0 B/op	       0 allocs/op
BenchmarkSimPingPong/64B-2        	   51057	      8139 ns/op	         7.000 copies	         0.04761 mallocs/op	         3.9 mbytes/op	       3 B/op	       0 allocs/op
--- BENCH: BenchmarkSimPingPong/64B-2
    datapath_bench_test.go:1: a log line
BenchmarkMemmove/64KiB-GSO-2      	  248722	      1533 ns/op	42747.17 MB/s	       342.0 Gbit/s	         1.000 copies	    652280 pkts/s	         1.000 x-memmove	       0 B/op	       0 allocs/op
PASS
ok  	github.com/tamaxen/tamaxen/netfront	9.763s
pkg: github.com/tamaxen/tamaxen/netstack
BenchmarkTCP/offloads/to-host-2 	    7761	    174426 ns/op	 375.72 MB/s	         2.638 frames/op	     341 B/op	       7 allocs/op
`

func TestParse(t *testing.T) {
	rows, err := parse(strings.NewReader(sample))
	require.NoError(t, err)
	require.Len(t, rows, 4)
	r := rows[0]
	assert.Equal(t, "github.com/tamaxen/tamaxen/netfront", r.pkg)
	assert.Equal(t, "SimTX/q1/64B", r.name)
	assert.Len(t, r.values["ns/op"], 3, "the -count repetitions are kept")
	ns, ok := r.median("ns/op")
	assert.True(t, ok)
	assert.Equal(t, 830.0, ns, "the median of the repetitions")
	assert.Equal(t, []string{"ns/op", "MB/s", "Gbit/s", "copies", "pkts/s", "x-memmove", "B/op", "allocs/op"}, r.units)
	assert.Equal(t, "SimPingPong/64B", rows[1].name)
	assert.Equal(t, "github.com/tamaxen/tamaxen/netstack", rows[3].pkg)
	assert.Equal(t, "TCP/offloads/to-host", rows[3].name)
}

func TestWrite(t *testing.T) {
	rows, err := parse(strings.NewReader(sample))
	require.NoError(t, err)
	var b strings.Builder
	require.NoError(t, write(&b, rows))
	lines := strings.Split(b.String(), "\n")
	fields := func(prefix string) []string {
		for _, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), prefix) {
				return strings.Fields(l)
			}
		}
		t.Fatalf("no line for %q in\n%s", prefix, b.String())
		return nil
	}
	assert.Equal(t, []string{"benchmark", "pkts/s", "Gbit/s", "ns/pkt", "allocs/op", "copies", "x", "memmove", "other"}, fields("benchmark"))
	assert.Equal(t, []string{"netfront:"}, fields("netfront:"))
	assert.Equal(t, []string{"SimTX/q1/64B", "1.2M", "0.61", "830", "0", "3", "0.0047"}, fields("SimTX/q1/64B"))
	// mallocs/op, exact, in place of go test's truncated allocs/op.
	assert.Equal(t, []string{"SimPingPong/64B", "-", "-", "-", "0.0476", "7", "-", "8139", "ns/op"}, fields("SimPingPong/64B"))
	assert.Equal(t, []string{"Memmove/64KiB-GSO", "652k", "342", "1533", "0", "1", "1"}, fields("Memmove/64KiB-GSO"))
	// Gbit/s from MB/s when the benchmark reports no Gbit/s; ns/op is not per packet.
	assert.Equal(t, []string{"TCP/offloads/to-host", "-", "3.01", "-", "7", "-", "-", "174426", "ns/op,", "2.64", "frames/op"},
		fields("TCP/offloads/to-host"))
	// The columns line up: every row as wide as the header, up to the last column.
	hdr := strings.Index(lines[0], "other")
	for _, l := range lines[1:] {
		if strings.Contains(l, "SimTX/q1/64B") {
			assert.Equal(t, strings.Index(lines[0], "x memmove")+len("x memmove"), strings.Index(l, "0.0047")+len("0.0047"))
			assert.LessOrEqual(t, len(strings.TrimRight(l, " ")), hdr)
		}
	}
}

func TestParseEmpty(t *testing.T) {
	rows, err := parse(strings.NewReader("PASS\nok  \tx\t0.1s\n"))
	require.NoError(t, err)
	assert.Empty(t, rows)
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		sig3 string
		si   string
	}{
		{0, "0", "0"},
		{0.004762, "0.00476", "0.00476"},
		{10.85, "10.8", "10.8"},
		{826, "826", "826"},
		{16668.4, "16668", "16.7k"},
		{1210666, "1210666", "1.21M"},
		{228075115, "228075115", "228M"},
		{3e9, "3000000000", "3G"},
	} {
		assert.Equal(t, tc.sig3, sig3(tc.v), "sig3(%v)", tc.v)
		assert.Equal(t, tc.si, si(tc.v), "si(%v)", tc.v)
	}
	assert.Equal(t, "SimTX/q1/64B", trimProcs("SimTX/q1/64B-2"))
	assert.Equal(t, "Memmove/64KiB-GSO", trimProcs("Memmove/64KiB-GSO"))
	assert.Equal(t, "netfront", shortPkg("github.com/tamaxen/tamaxen/netfront"))
}
