//go:build !tamago

package unikernel

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tamaxen/tamaxen/netfront"
	"github.com/tamaxen/tamaxen/netfront/pcap"
	"github.com/tamaxen/tamaxen/netstack"
	"github.com/tamaxen/tamaxen/netstack/hostnet"
	"github.com/tamaxen/tamaxen/netstack/netcfg"
	"github.com/tamaxen/tamaxen/xen/sim/machine"
	"github.com/tamaxen/tamaxen/xen/sim/netback"
)

// HostedFlags are hosted mode's command-line options; Start reads them from os.Args unless
// the program set Hosted first (tests do).
type HostedFlags struct {
	// Cmdline is the guest command line, as extra= would give it on Xen; "" means DHCP.
	Cmdline string
	// Forward replaces Options.Forward when not nil.
	Forward []Forward
	// Pcap, if set, is a file that receives every frame crossing netfront (pcapng).
	Pcap string
	// Tap, if set, attaches the vif to this Linux TAP device instead of the userspace host
	// stack (needs CAP_NET_ADMIN); no DHCP or forwards then.
	Tap string
	// Queues is the number of netfront queues.
	Queues int
	// Stats, if positive, prints the stack's counters this often.
	Stats time.Duration
}

// Hosted, when not nil, is used instead of parsing os.Args.
var Hosted *HostedFlags

func parseFlags(o Options) (*HostedFlags, error) {
	if Hosted != nil {
		return Hosted, nil
	}
	h := &HostedFlags{}
	fs := flag.NewFlagSet(o.Name, flag.ContinueOnError)
	fs.StringVar(&h.Cmdline, "cmdline", "", "guest command line, as extra= in an xl config (default: DHCP from the host side)")
	var fwd string
	def := make([]string, len(o.Forward))
	for i, f := range o.Forward {
		def[i] = f.String()
	}
	fs.StringVar(&fwd, "forward", strings.Join(def, ","), "host ports relayed to the guest: HOST:PORT-:GUESTPORT[,...]")
	fs.StringVar(&h.Pcap, "pcap", "", "write the frames crossing netfront to this pcapng `file`")
	fs.StringVar(&h.Tap, "tap", "", "attach the vif to this TAP `device` instead of the userspace host stack (root)")
	fs.IntVar(&h.Queues, "queues", 1, "netfront queues")
	fs.DurationVar(&h.Stats, "stats", 0, "print the counters this often (e.g. 5s)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return nil, err
	}
	h.Forward = []Forward{}
	for _, s := range strings.Split(fwd, ",") {
		if s == "" {
			continue
		}
		f, err := parseForward(s)
		if err != nil {
			return nil, err
		}
		h.Forward = append(h.Forward, f)
	}
	return h, nil
}

// hostedPlatform: the simulated Xen host and the host side of the vif.
type hostedPlatform struct {
	s       *netstack.Stack
	m       *machine.Machine
	host    *hostnet.Host
	tap     *tapLink
	capture *pcap.Writer
	pcapf   *os.File

	forwarded []net.Addr
}

func (p *hostedPlatform) listen(s *netstack.Stack, network, address string) (net.Listener, error) {
	return s.Listen(network, address)
}

func (p *hostedPlatform) stats() string { return "" }

func (p *hostedPlatform) close() {
	if p.host != nil {
		p.host.Close()
	}
	if p.tap != nil {
		p.tap.close()
	}
	if p.m != nil {
		p.m.Close()
	}
	if p.capture != nil {
		_ = p.capture.Close()
		_ = p.pcapf.Close()
	}
}

func (p *hostedPlatform) exit(err error) {
	p.close()
	if err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

func start(ctx context.Context, o Options) (u *Unikernel, err error) {
	hf, err := parseFlags(o)
	if err != nil {
		return nil, err
	}
	nc, err := netcfg.Parse(hf.Cmdline)
	if err != nil {
		return nil, err
	}
	p := &hostedPlatform{}
	u = &Unikernel{opts: o, p: p}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	nb := netback.DefaultConfig()
	nb.RxQueueLen = 256
	if p.m, err = machine.New(machine.Config{GuestName: o.Name, MAC: "00:16:3e:5a:11:03", Netback: &nb}); err != nil {
		return nil, err
	}
	o.timeline.Mark(netstack.StageXenStore)
	if hf.Tap != "" {
		if p.tap, err = openTap(hf.Tap, p.m.Backend); err != nil {
			return nil, err
		}
	} else if p.host, err = hostnet.New(p.m.Backend, hostnet.Config{Logf: u.Logf}); err != nil {
		return nil, err
	}
	cfg := netstack.Config{Net: nc, Device: netfront.Config{Queues: hf.Queues}, Logf: u.Logf, Timeline: o.timeline}
	if hf.Pcap != "" {
		if p.pcapf, err = os.Create(hf.Pcap); err != nil {
			return nil, err
		}
		if p.capture, err = pcap.NewWriter(p.pcapf, "vif0", 0); err != nil {
			return nil, err
		}
		cfg.Capture = p.capture
	}
	began := time.Now()
	if p.s, err = netstack.Open(ctx, p.m.Platform, cfg); err != nil {
		return nil, err
	}
	u.Net = p.s
	u.Logf("hosted on the simulated Xen: network up in %v, %s, addresses %v", time.Since(began).Round(time.Millisecond), nc, p.s.Addrs())
	if p.host != nil {
		guest := p.s.Addr().Addr()
		for _, f := range hf.Forward {
			a, err := p.host.Forward(f.Host, netip.AddrPortFrom(guest, uint16(f.Guest)))
			if err != nil {
				return nil, fmt.Errorf("forward %s: %w", f, err)
			}
			u.Logf("forwarding %s to the guest's port %d", a, f.Guest)
			if f.Guest == 80 {
				u.Logf("open http://%s/", a)
			}
			p.forwarded = append(p.forwarded, a)
		}
	}
	life, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	u.done, u.stop = life.Done(), stop
	u.report(hf.Stats)
	return u, nil
}

// HostSide returns hosted mode's host stack (nil on Xen or with a TAP device), for tests.
func (u *Unikernel) HostSide() *hostnet.Host {
	if p, ok := u.p.(*hostedPlatform); ok {
		return p.host
	}
	return nil
}

const where = "hosted on the simulated Xen"

func fatal() { os.Exit(1) }

// Forwarded returns the host addresses hosted mode relays to the guest, as bound (a port 0
// in -forward becomes the port the kernel chose).
func (u *Unikernel) Forwarded() []net.Addr {
	if p, ok := u.p.(*hostedPlatform); ok {
		return p.forwarded
	}
	return nil
}
