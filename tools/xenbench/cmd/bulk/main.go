// Command bulk is the Linux side of the bulk TCP benchmark (package bulk): the server that
// runs in the benchmark's Linux domU, the client dom0 runs against either guest, and the
// boot prober of `make xen-bench`.
//
//	bulk serve [-addr :5201]
//	bulk get -addr HOST:PORT -bytes N [-streams K]   dom0 <- server (download)
//	bulk put -addr HOST:PORT -bytes N [-streams K]   dom0 -> server (upload)
//	bulk probe -ip ADDR [-port 80] -- COMMAND...     ms from COMMAND's start to the first
//	                                                 ping and HTTP answers of ADDR
//
// get and put print one line of key=value fields (Result.String); probe prints one too.
// Built static (CGO_ENABLED=0) so that it runs in a busybox initramfs.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/tamaxen/tamaxen/tools/xenbench/bulk"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "get":
		err = client(bulk.Get, os.Args[2:])
	case "put":
		err = client(bulk.Put, os.Args[2:])
	case "probe":
		err = probe(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bulk %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: bulk serve|get|put|probe [flags] (bulk CMD -h for its flags)")
	os.Exit(2)
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := fs.String("addr", ":5201", "address to listen on")
	maxBytes := fs.Uint64("max-bytes", bulk.DefaultMaxBytes, "largest transfer a client may ask for")
	maxConns := fs.Int("max-conns", bulk.DefaultMaxConns, "transfers served at once")
	_ = fs.Parse(args)
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Printf("bulk: serving on %s\n", l.Addr())
	s := &bulk.Server{MaxBytes: *maxBytes, MaxConns: *maxConns,
		Logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }}
	return s.Serve(l)
}

func client(op bulk.Op, args []string) error {
	fs := flag.NewFlagSet(op.String(), flag.ExitOnError)
	addr := fs.String("addr", "", "server HOST:PORT")
	n := fs.Uint64("bytes", 64<<20, "bytes to transfer, split over the streams")
	streams := fs.Int("streams", 1, "parallel connections")
	bufSize := fs.Int("buf", bulk.DefaultBufSize, "bytes per read or write")
	timeout := fs.Duration("timeout", 10*time.Minute, "bound on the whole transfer")
	_ = fs.Parse(args)
	if *addr == "" {
		return fmt.Errorf("-addr is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", *addr)
	}
	r, err := bulk.Run(ctx, dial, op, *n, *streams, *bufSize)
	if err != nil {
		return err
	}
	fmt.Println(r)
	return nil
}
