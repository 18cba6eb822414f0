package unikernel_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/tamaxen/tamaxen/unikernel"
)

// Start brings the network up, here hosted: the real netfront driver and gVisor's stack over
// the simulated Xen, with the host's loopback relayed to the guest; built with GOOS=tamago the
// same code runs on Xen. The program then serves with the standard library, as any Go program.
func ExampleStart() {
	// Hosted mode reads its options from the command line (-forward, -cmdline, -pcap, ...)
	// unless Hosted says them: here the guest's port 80 is relayed from a free port of the
	// host's loopback, and the guest command line gives a fixed address instead of DHCP.
	unikernel.Hosted = &unikernel.HostedFlags{
		Cmdline: "ip=10.0.0.2/24 gw=10.0.0.1",
		Forward: []unikernel.Forward{{Host: "127.0.0.1:0", Guest: 80}},
	}
	defer func() { unikernel.Hosted = nil }()

	// Start prints how long the network took and which port it relays on the console
	// (standard output); this example sets those lines aside to print the same every time.
	console := os.Stdout
	os.Stdout, _ = os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	u, err := unikernel.Start(ctx, unikernel.Options{Name: "example"})
	cancel()
	os.Stdout.Close()
	os.Stdout = console
	if err != nil {
		log.Fatal(err)
	}
	defer u.Close()

	l, err := u.Listen("tcp", ":80")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s on %s\n", u.Where(), u.Net.Addr().Addr())
	})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	// A client on the host, through the relay.
	resp, err := http.Get("http://" + u.Forwarded()[0].String() + "/")
	if err != nil {
		log.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(body))
	// Output:
	// hello from hosted on the simulated Xen on 10.0.0.2
}
