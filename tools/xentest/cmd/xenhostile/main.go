// Command xenhostile is dom0's attacker in the hostile real-Xen suite (tools/xentest/hostile):
// it sends malformed and abusive traffic at guests on the test bridge, and checks with a
// positive oracle that the guests drop datagrams and SYNs whose checksums are wrong.
//
//	xenhostile attack -kind KIND[,KIND...] -target SPEC [-target SPEC...] [flags]
//	xenhostile csum -target SPEC [-cases NAME,...] [-timeout 10s] [-grace 2s]
//	xenhostile kinds
//
// A SPEC names a guest: name=echo,vif=vif3.0,mac=00:16:3e:5a:11:04,ip4=10.0.0.3,ip6=fd00::3,tcp=7,udp=7.
// Malformed frames go out as raw frames (AF_PACKET) on the guest's vif, straight to its
// netback, from dom0's MAC and addresses on the bridge (-bridge); the vif's MTU is raised for
// the duration of a kind whose frames are longer than it allows. Floods of connections and
// datagrams use ordinary sockets. Every kind is bounded in count (-scale multiplies the
// counts) and in time (-duration); the tool stops by itself and prints one line per kind.
// csum prints "ok CASE: ..." or "FAIL CASE: ..." per case and exits 1 if any failed.
//
// It is built with the stock Go toolchain for linux/amd64 and runs as root in the test dom0;
// it only ever sends to the guests it is given, on the interfaces it is given.

//go:build linux

package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

// frameKind is a kind of attack sent as raw frames: make builds the frames for one guest.
type frameKind struct {
	name, what string
	make       func(*gen) [][]byte
}

// frameKinds are the kinds sent as raw frames, in the order "all" runs them.
var frameKinds = []frameKind{
	{"runt", "frames of 14 to 59 bytes, garbage or cut-off headers, every EtherType", runts},
	{"giant", "frames up to 9014 bytes, lengths that disagree with the frame", giants},
	{"badip4", "IPv4 headers with one thing wrong: version, IHL, length, checksum, addresses, options, protocol; bad UDP/TCP headers; LAND", badIPv4},
	{"badip6", "IPv6 headers with one thing wrong: version, payload length, hop limit, next header, addresses", badIPv6},
	{"frag", "thousands of never-completed IPv4/IPv6 fragments, overlaps, past 64 KiB, tiny pieces with holes", fragments},
	{"exthdr", "IPv6 extension header chains: long, misordered, malformed, unknown, routing type 0", extChains},
	{"garbage", "malformed ARP, ND (NS/NA/RA/redirect) and ICMP/ICMPv6", garbage},
	{"badcsum", "UDP and TCP SYN with wrong checksums, whole and fragmented, IPv4/IPv6, behind dest-opts", badChecksums},
	{"synflood", "SYNs from thousands of random sources and ports, IPv4 and IPv6", synFlood},
}

var socketKinds = []struct{ name, what string }{
	{"connflood", "-conns TCP connections per guest held open for -hold"},
	{"slow", "-conns slow clients per guest (idle, trickle, deaf, slow reader) for -duration"},
	{"udpflood", "-count UDP datagrams per guest within -duration, 0 to 65000 bytes, open and closed ports"},
}

type targetList []*target

func (l *targetList) String() string { return fmt.Sprint(len(*l)) }
func (l *targetList) Set(s string) error {
	t, err := parseTarget(s)
	if err == nil {
		*l = append(*l, t)
	}
	return err
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	var targets targetList
	fs.Var(&targets, "target", "guest to attack (repeatable): name=,vif=,mac=,ip4=,ip6=,tcp=,udp=")
	bridge := fs.String("bridge", "xenbr0", "dom0's bridge: the source MAC and addresses of crafted frames")
	kinds := fs.String("kind", "", "attack: comma-separated kinds, or all")
	scale := fs.Float64("scale", 1, "attack: multiplies the number of frames of each kind")
	duration := fs.Duration("duration", 30*time.Second, "attack: time limit of each kind (slow: how long the clients stay)")
	seed := fs.Uint64("seed", 0, "random seed (0: from the clock; printed)")
	conns := fs.Int("conns", 300, "connflood and slow: connections per guest")
	hold := fs.Duration("hold", 5*time.Second, "connflood: how long the connections stay open")
	count := fs.Int("count", 6000, "udpflood: datagrams per guest")
	cases := fs.String("cases", "", "csum: comma-separated cases (default all)")
	timeout := fs.Duration("timeout", 10*time.Second, "csum: how long to wait for the right-checksum answers")
	grace := fs.Duration("grace", 2*time.Second, "csum: how long to keep listening after the last right-checksum answer")
	_ = fs.Parse(os.Args[2:])
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	r := rand.New(rand.NewPCG(*seed, *seed>>32|1))

	var err error
	switch os.Args[1] {
	case "kinds":
		for _, k := range frameKinds {
			fmt.Printf("%-10s %s\n", k.name, k.what)
		}
		for _, k := range socketKinds {
			fmt.Printf("%-10s %s\n", k.name, k.what)
		}
		for _, c := range csumCases {
			fmt.Printf("csum case  %s\n", c.name)
		}
		return
	case "attack":
		if len(targets) == 0 || *kinds == "" {
			usage()
		}
		err = attack(r, *bridge, targets, strings.Split(*kinds, ","), attackOpts{
			scale: *scale, duration: *duration, conns: *conns, hold: *hold, count: *count, seed: *seed})
	case "csum":
		if len(targets) != 1 {
			usage()
		}
		var s self
		if s, err = bridgeSelf(*bridge); err != nil {
			break
		}
		if err = s.onBridge(targets[0], bridgeOf); err != nil {
			break
		}
		var failed int
		if failed, err = runOracle(r, s, targets[0], *cases, *timeout, *grace); err == nil && failed > 0 {
			os.Exit(1)
		}
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "xenhostile:", err)
		os.Exit(2)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: xenhostile attack -kind KIND[,KIND] -target SPEC... | csum -target SPEC | kinds")
	os.Exit(2)
}

type attackOpts struct {
	scale    float64
	duration time.Duration
	conns    int
	hold     time.Duration
	count    int
	seed     uint64
}

// attack runs each kind in turn and prints a line for each.
func attack(r *rand.Rand, bridge string, ts []*target, kinds []string, o attackOpts) error {
	if slices.Contains(kinds, "all") {
		kinds = nil
		for _, k := range frameKinds {
			kinds = append(kinds, k.name)
		}
		for _, k := range socketKinds {
			kinds = append(kinds, k.name)
		}
	}
	s, err := bridgeSelf(bridge)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if err := s.onBridge(t, bridgeOf); err != nil {
			return err
		}
	}
	for _, kind := range kinds {
		start := time.Now()
		deadline := start.Add(o.duration)
		var line string
		switch kind {
		case "connflood":
			line = connFlood(ts, bridge, o.conns, o.hold, deadline.Add(o.hold))
		case "slow":
			line = slowClients(ts, bridge, o.conns, o.duration)
		case "udpflood":
			line = udpFlood(ts, o.count, o.duration)
		default:
			i := slices.IndexFunc(frameKinds, func(k frameKind) bool { return k.name == kind })
			if i < 0 {
				return fmt.Errorf("unknown kind %q (xenhostile kinds lists them)", kind)
			}
			var err error
			if line, err = sendFrames(r, s, ts, kind, frameKinds[i].make, o.scale, deadline); err != nil {
				return fmt.Errorf("%s: %w", kind, err)
			}
		}
		fmt.Printf("%s: %s in %v (seed %d)\n", kind, line, time.Since(start).Round(100*time.Millisecond), o.seed)
	}
	return nil
}

// sendFrames builds kind's frames for every target and sends them round-robin over the
// targets' vifs until done or the deadline.
func sendFrames(r *rand.Rand, s self, ts []*target, kind string, mk func(*gen) [][]byte, scale float64, deadline time.Time) (string, error) {
	frames := make([][][]byte, len(ts))
	for i, t := range ts {
		if t.vif == "" {
			return "", fmt.Errorf("target %s has no vif=", t.name)
		}
		frames[i] = mk(&gen{r: r, s: s, t: t, n: scale})
		l, err := openLink(t.vif)
		if err != nil {
			return "", err
		}
		defer l.Close()
		t.link = l
		// Frames longer than the vif's MTU allows need a larger one (netback takes up to
		// 64 KiB from a frontend with scatter-gather); it is put back afterwards.
		longest := 0
		for _, f := range frames[i] {
			longest = max(longest, len(f))
		}
		if ifi, err := net.InterfaceByName(t.vif); err == nil && longest > ifi.MTU+14 {
			if old, err := setMTU(t.vif, longest-14); err != nil {
				fmt.Fprintf(os.Stderr, "xenhostile: %s: %v (frames over %d bytes are refused)\n", kind, err, old+14)
			} else {
				defer setMTU(t.vif, old)
			}
		}
	}
	var total int
	for i := 0; ; i++ {
		more := false
		for k, t := range ts {
			if i >= len(frames[k]) {
				continue
			}
			more = true
			if time.Now().After(deadline) {
				break
			}
			if err := t.link.send(frames[k][i]); err != nil {
				return "", err
			}
			total += len(frames[k][i])
		}
		if !more || time.Now().After(deadline) {
			break
		}
	}
	var b strings.Builder
	for k, t := range ts {
		fmt.Fprintf(&b, "%s=%d ", t.name, t.link.sent)
		if t.link.sent+t.link.refused < len(frames[k]) {
			fmt.Fprintf(&b, "(of %d: deadline) ", len(frames[k]))
		}
	}
	fmt.Fprintf(&b, "frames, %d bytes", total)
	for _, t := range ts {
		if t.link.full > 0 {
			fmt.Fprintf(&b, "; %s queue full %d times", t.name, t.link.full)
		}
		if t.link.refused > 0 {
			fmt.Fprintf(&b, "; %s: kernel refused %d (%v)", t.name, t.link.refused, t.link.firstRefusal)
		}
	}
	return b.String(), nil
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
