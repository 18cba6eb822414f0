// Command xensoak is dom0's side of the soak in `make xen-stress` (tools/xenstress): for a
// fixed time it keeps TCP and UDP flowing both ways between dom0 and two guests, and checks
// every byte.
//
//	xensoak -http http://10.0.0.2 -echo 10.0.0.3:7 -duration 600s
//
// Against examples/httpd it loops downloads of /download?bytes=N (the internal/pattern stream,
// each checked by SHA-256 against the stream regenerated here) and uploads to /upload (random
// bodies whose length and SHA-256 the guest answers). Against examples/echo it keeps TCP echo
// connections busy (each message read back byte for byte) and sends UDP datagrams at a fixed
// rate, counting the answers. A transfer that ends early or with the wrong bytes counts as lost
// or corrupted; UDP loss is only reported.
//
// Progress goes to stdout every -progress, then a summary, then one line of key=value pairs
// starting "soak-result" for scripts. Exit status 1 when any TCP byte was lost or corrupted.
// Built with the stock Go toolchain for linux/amd64; runs in the test dom0.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// config is what the flags set.
type config struct {
	httpBase   string
	echoAddr   string
	duration   time.Duration
	progress   time.Duration
	downloads  int
	uploads    int
	tcpEcho    int
	udpFlows   int
	udpRate    int
	udpSize    int
	dlSizes    []int64
	ulSizes    []int64
	echoSize   int
	xferTimout time.Duration
}

func main() {
	var c config
	var dl, ul string
	flag.StringVar(&c.httpBase, "http", "", "base URL of examples/httpd (downloads and uploads); empty: none")
	flag.StringVar(&c.echoAddr, "echo", "", "host:port of examples/echo (TCP and UDP echo); empty: none")
	flag.DurationVar(&c.duration, "duration", 60*time.Second, "how long to keep traffic flowing")
	flag.DurationVar(&c.progress, "progress", 60*time.Second, "period of the progress lines")
	flag.IntVar(&c.downloads, "downloads", 2, "concurrent download loops")
	flag.IntVar(&c.uploads, "uploads", 2, "concurrent upload loops")
	flag.IntVar(&c.tcpEcho, "tcp-echo", 1, "concurrent TCP echo connections")
	flag.IntVar(&c.udpFlows, "udp-flows", 2, "UDP sockets (source ports) the datagrams are spread over")
	flag.IntVar(&c.udpRate, "udp-rate", 50, "UDP datagrams per second, over all flows")
	flag.IntVar(&c.udpSize, "udp-size", 512, "UDP datagram size (at least 16)")
	flag.StringVar(&dl, "download-sizes", "262144,1048576,4194304", "download sizes in bytes, used in turn")
	flag.StringVar(&ul, "upload-sizes", "262144,1048576,2097152", "upload sizes in bytes, used in turn")
	flag.IntVar(&c.echoSize, "echo-size", 16384, "TCP echo message size")
	flag.DurationVar(&c.xferTimout, "timeout", 120*time.Second, "deadline of one transfer or echo round trip")
	flag.Parse()
	var err error
	if c.dlSizes, err = parseSizes(dl); err == nil {
		c.ulSizes, err = parseSizes(ul)
	}
	if err == nil && c.httpBase == "" && c.echoAddr == "" {
		err = fmt.Errorf("nothing to do: give -http, -echo or both")
	}
	if err == nil && c.udpSize < 16 {
		err = fmt.Errorf("-udp-size %d is below 16", c.udpSize)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "xensoak:", err)
		os.Exit(2)
	}
	r := run(context.Background(), c, os.Stdout)
	fmt.Println(r.summary())
	fmt.Println(r.keyValues())
	if !r.ok() {
		os.Exit(1)
	}
}

func parseSizes(s string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		var n int64
		if _, err := fmt.Sscan(strings.TrimSpace(f), &n); err != nil || n < 0 {
			return nil, fmt.Errorf("bad size %q in %q", f, s)
		}
		out = append(out, n)
	}
	return out, nil
}

// run keeps every worker going for c.duration, printing progress to out, and returns the tally.
func run(ctx context.Context, c config, out interface{ Write([]byte) (int, error) }) *result {
	r := &result{}
	var h *httpWorkers
	if c.httpBase != "" {
		h = newHTTPWorkers(c, r) // hashes the download sizes: before the clock starts
	}
	r.start = time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	var wg sync.WaitGroup
	if h != nil {
		for i := range c.downloads {
			wg.Go(func() { h.downloadLoop(ctx, i) })
		}
		for i := range c.uploads {
			wg.Go(func() { h.uploadLoop(ctx, i) })
		}
	}
	if c.echoAddr != "" {
		for i := range c.tcpEcho {
			wg.Go(func() { tcpEchoLoop(ctx, c, r, i) })
		}
		if c.udpRate > 0 && c.udpFlows > 0 {
			wg.Go(func() { udpSoak(ctx, c, r) })
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var tick <-chan time.Time
	if c.progress > 0 {
		t := time.NewTicker(c.progress)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-done:
			r.elapsed = time.Since(r.start)
			return r
		case <-tick:
			fmt.Fprintln(out, r.progressLine())
		}
	}
}
