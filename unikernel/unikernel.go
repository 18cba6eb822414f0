// Package unikernel is what an example program needs to run in either of two places with the
// same source:
//
//   - on Xen (GOOS=tamago, the board/xenpvh board): the vif is driven by netfront, gVisor's
//     stack sits on top, and net.SocketFunc is hooked so that net, net/http and crypto/tls work
//     unmodified; the network configuration comes from the guest command line (extra= in the
//     xl config), with DHCP when it has no ip=;
//   - hosted, as a Linux process built with the stock toolchain: the same netfront driver runs
//     over the simulated Xen (package sim/machine), and the host side of the vif is a
//     userspace stack (netstack/hostnet) that serves DHCP and forwards ports of the host's
//     loopback to the guest, so no root is needed; -tap attaches a TAP device instead.
//
// Start brings the network up; Listen and ListenPacket open sockets on the guest's stack;
// Done tells when the program was asked to stop (xl shutdown, or Ctrl-C when hosted).
package unikernel

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tamaxen/tamaxen/netstack"
)

// Forward is a port of the host that hosted mode relays to a TCP port of the guest.
type Forward struct {
	Host  string // host address to listen on, e.g. "127.0.0.1:8080"
	Guest int    // the guest's TCP port
}

func (f Forward) String() string { return f.Host + "-:" + strconv.Itoa(f.Guest) }

// parseForward reads "127.0.0.1:8080-:80" (QEMU's hostfwd form, guest address omitted).
func parseForward(s string) (Forward, error) {
	host, guest, ok := strings.Cut(s, "-")
	if !ok {
		return Forward{}, fmt.Errorf("forward %q: want HOST:PORT-:GUESTPORT", s)
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		return Forward{}, fmt.Errorf("forward %q: %w", s, err)
	}
	port, err := strconv.Atoi(strings.TrimPrefix(guest, ":"))
	if err != nil || port <= 0 || port > 65535 {
		return Forward{}, fmt.Errorf("forward %q: bad guest port", s)
	}
	return Forward{Host: host, Guest: port}, nil
}

// Options describe the program to Start.
type Options struct {
	// Name prefixes the program's console lines ("httpd: ready ...").
	Name string
	// Forward are the default port forwards of hosted mode (its -forward flag replaces them).
	Forward []Forward

	timeline *netstack.Timeline // the boot timeline, started by Start (timeline.go)
}

// Unikernel is the running program's environment.
type Unikernel struct {
	// Net is the guest's network stack.
	Net  *netstack.Stack
	opts Options
	done <-chan struct{}
	stop func()
	p    platform
}

// Logf prints a line on the console (the PV console on Xen, stderr when hosted), prefixed
// with the program's name.
func (u *Unikernel) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stdout, u.opts.Name+": "+format+"\n", args...)
}

// Done is closed when the program is asked to stop: a shutdown request from the toolstack on
// Xen, SIGINT or SIGTERM when hosted.
func (u *Unikernel) Done() <-chan struct{} { return u.done }

// Listen opens a listener on the guest's stack ("tcp", ":80"). On the unspecified address it
// is dual-stack: IPv4 and IPv6 clients alike. On Xen it goes through the standard library's
// net.Listen (and so net.SocketFunc), as a program of the user's own would.
func (u *Unikernel) Listen(network, address string) (net.Listener, error) {
	return u.p.listen(u.Net, network, address)
}

// ListenPacket opens a datagram socket on the guest's stack ("udp", ":7"), dual-stack on the
// unspecified address. (With GOOS=tamago, the standard library's net.ListenPacket("udp",
// ":7") is IPv4-only; see netstack.Stack.Socket.)
func (u *Unikernel) ListenPacket(network, address string) (net.PacketConn, error) {
	return u.Net.ListenPacket(network, address)
}

// Close takes the network down and releases the platform (the simulated Xen when hosted).
func (u *Unikernel) Close() error {
	u.stop()
	err := u.Net.Close()
	u.p.close()
	return err
}

// Exit ends the program: on Xen the domain powers off (crashes when err is not nil, so the
// toolstack's on_crash applies); hosted, the process exits.
func (u *Unikernel) Exit(err error) {
	if err != nil {
		u.Logf("error: %v", err)
	}
	u.p.exit(err)
}

// platform is what differs between Xen and hosted mode.
type platform interface {
	listen(s *netstack.Stack, network, address string) (net.Listener, error)
	close()
	exit(err error)
	// stats is the platform's part of the stats line ("" for none).
	stats() string
}

// report prints the stack's summary every period until the program stops: the console
// accounting that long tests read to assert nothing leaked.
func (u *Unikernel) report(period time.Duration) {
	if period <= 0 {
		return
	}
	go func() {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-u.done:
				return
			case <-t.C:
				if ps := u.p.stats(); ps != "" {
					u.Logf("stats %s | %s", u.Net.Summary(), ps)
				} else {
					u.Logf("stats %s", u.Net.Summary())
				}
			}
		}
	}()
}

// Start brings up the network and returns the environment. ctx bounds the start only.
func Start(ctx context.Context, o Options) (*Unikernel, error) {
	if o.Name == "" {
		o.Name = "unikernel"
	}
	o.timeline = newTimeline()
	out := os.Stdout // the console now: showTimeline's later line goes there too
	u, err := start(ctx, o)
	if err != nil {
		return nil, err
	}
	u.showTimeline(out)
	return u, nil
}

// Fatal reports an error that ends the program before Start returned an environment: on Xen
// the domain crashes (so on_crash applies), hosted the process exits with status 1.
func Fatal(name string, err error) {
	fmt.Fprintf(os.Stdout, "%s: error: %v\n", name, err)
	fatal()
}

// Where says where the program runs: "Xen PVH" or "hosted on the simulated Xen".
func (u *Unikernel) Where() string { return where }
