// Package netcfg reads a guest's network configuration from its command line.
//
// xl passes the extra= string of a domain's configuration to the guest as its command line
// (the cmdline of the PVH start info). netcfg picks out of it the words that configure the
// network:
//
//	ip=10.0.0.2/24 gw=10.0.0.1 dns=10.0.0.1,2001:db8::53 ip6=fd00::2/64 gw6=fe80::1 mtu=1500 hostname=guest
//
// Words are separated by white space and have the form key=value. Words with other keys and
// words without '=' belong to someone else and are ignored, and a key given twice takes its
// last value. The values of known keys are checked strictly, and a bad one is an *Error that
// names the word: a guest that says why it has no network is easier to mend than one that
// comes up with an address nobody meant. Linux's colon-separated ip=client:server:gw:... form
// is not understood.
//
// Without ip= (or with ip=dhcp) the guest is expected to ask DHCP for its IPv4 address; dhcp=off
// turns that off, leaving IPv4 unconfigured unless ip= gives an address.
//
// Portable: standard library only; the same code runs on TamaGo and on the host.
package netcfg

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Defaults and limits.
const (
	// DefaultPrefixLen is the prefix length of an ip= address written without one.
	DefaultPrefixLen = 24
	// DefaultPrefixLen6 is the prefix length of an ip6= address written without one.
	DefaultPrefixLen6 = 64
	// MaxDNS is the most name servers dns= may list.
	MaxDNS = 4
	// MinMTU and MaxMTU bound mtu=: IPv4's minimum datagram size (RFC 791) and the largest
	// size an IPv4 total length can express.
	MinMTU = 68
	MaxMTU = 65535
	// MinMTU6 is IPv6's minimum link MTU (RFC 8200), required when ip6= is given.
	MinMTU6 = 1280
)

// Config is the network configuration of a guest. The zero Config has no addresses and DHCP
// off; Parse("") returns one with DHCP on.
type Config struct {
	Addr     netip.Prefix // IPv4 address and subnet (ip=); not valid when absent
	Gateway  netip.Addr   // IPv4 default router (gw=), inside Addr when Addr is valid
	Addr6    netip.Prefix // static IPv6 address and prefix (ip6=)
	Gateway6 netip.Addr   // IPv6 default router (gw6=), often link-local
	DNS      []netip.Addr // name servers (dns=), IPv4 or IPv6, at most MaxDNS; nil when absent
	DHCP     bool         // ask DHCP for the IPv4 address: no ip= (or ip=dhcp) and not dhcp=off
	MTU      int          // link MTU (mtu=); 0 when not set
	Hostname string       // the guest's name (hostname=), one RFC 1123 label; "" when absent
	// TxBatch is how many frames an outgoing queue hands netfront at once (txbatch=, 1 to
	// MaxTxBatch; 0: the stack's default, the fastest). It exists to measure what batching is
	// worth on a given host.
	TxBatch int
}

// MaxTxBatch is the largest txbatch=.
const MaxTxBatch = 16

// Error reports a word of the command line that could not be used.
type Error struct {
	Word string // the word as written, key=value
	Err  error  // what is wrong with it
}

func (e *Error) Error() string { return fmt.Sprintf("netcfg: %q: %v", e.Word, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

// Parse reads the network configuration from a command line. It fails on the first word of a
// known key whose value is malformed, and when words contradict each other (a gateway outside
// the subnet); the *Error names the word.
func Parse(cmdline string) (Config, error) {
	var (
		c    Config
		dhcp = true
		// The words that set each value, for errors that involve more than one word.
		ipWord, gwWord, mtuWord string
	)
	for _, word := range strings.Fields(cmdline) {
		key, val, ok := strings.Cut(word, "=")
		if !ok {
			continue
		}
		var err error
		switch key {
		case "ip":
			if val == "dhcp" {
				c.Addr, dhcp, ipWord = netip.Prefix{}, true, ""
				break
			}
			c.Addr, err = parseAddr4(val)
			ipWord = word
		case "gw":
			c.Gateway, err = parseGateway4(val)
			gwWord = word
		case "ip6":
			c.Addr6, err = parseAddr6(val)
		case "gw6":
			c.Gateway6, err = parseGateway6(val)
		case "dns":
			c.DNS, err = parseDNS(val)
		case "dhcp":
			dhcp, err = parseSwitch(val)
		case "mtu":
			c.MTU, err = parseMTU(val)
			mtuWord = word
		case "hostname":
			err = checkHostname(val)
			c.Hostname = val
		case "txbatch":
			var n uint64
			if n, err = strconv.ParseUint(val, 10, 8); err != nil || n < 1 || n > MaxTxBatch {
				err = fmt.Errorf("want 1 to %d frames", MaxTxBatch)
			}
			c.TxBatch = int(n)
		default:
			continue // someone else's word
		}
		if err != nil {
			return Config{}, &Error{Word: word, Err: err}
		}
	}

	// Checks across words, made once every word is read because later words override earlier ones.
	if c.Gateway.IsValid() && c.Addr.IsValid() {
		if !c.Addr.Contains(c.Gateway) {
			return Config{}, &Error{Word: gwWord, Err: fmt.Errorf("not inside the subnet of %s", ipWord)}
		}
		if c.Gateway == c.Addr.Addr() {
			return Config{}, &Error{Word: gwWord, Err: fmt.Errorf("is the guest's own address (%s)", ipWord)}
		}
	}
	if c.MTU != 0 && c.MTU < MinMTU6 && c.Addr6.IsValid() {
		return Config{}, &Error{Word: mtuWord, Err: fmt.Errorf("IPv6 (ip6=) needs an MTU of at least %d", MinMTU6)}
	}
	c.DHCP = dhcp && !c.Addr.IsValid()
	return c, nil
}

// parseAddr4 reads ip=: an IPv4 host address with an optional prefix length.
func parseAddr4(val string) (netip.Prefix, error) {
	p, err := parsePrefix(val, DefaultPrefixLen)
	if err != nil {
		return netip.Prefix{}, err
	}
	a := p.Addr()
	if !a.Is4() {
		return netip.Prefix{}, errors.New("not an IPv4 address")
	}
	if p.Bits() == 0 {
		return netip.Prefix{}, errors.New("prefix length 0")
	}
	if err := checkUnicast(a); err != nil {
		return netip.Prefix{}, err
	}
	// /31 and /32 have no network or broadcast address (RFC 3021).
	if p.Bits() <= 30 {
		if a == p.Masked().Addr() {
			return netip.Prefix{}, errors.New("is the subnet's network address")
		}
		if a == lastAddr(p) {
			return netip.Prefix{}, errors.New("is the subnet's broadcast address")
		}
	}
	return p, nil
}

// parseAddr6 reads ip6=: an IPv6 address with an optional prefix length.
func parseAddr6(val string) (netip.Prefix, error) {
	p, err := parsePrefix(val, DefaultPrefixLen6)
	if err != nil {
		return netip.Prefix{}, err
	}
	if !p.Addr().Is6() || p.Addr().Is4In6() {
		return netip.Prefix{}, errors.New("not an IPv6 address")
	}
	if p.Bits() == 0 {
		return netip.Prefix{}, errors.New("prefix length 0")
	}
	return p, checkUnicast(p.Addr())
}

func parsePrefix(val string, defaultBits int) (netip.Prefix, error) {
	if strings.Contains(val, "/") {
		return netip.ParsePrefix(val)
	}
	a, err := parseAddr(val)
	if err != nil {
		return netip.Prefix{}, err
	}
	// Not a.Prefix, which would mask the host bits away.
	return netip.PrefixFrom(a, defaultBits), nil
}

func parseGateway4(val string) (netip.Addr, error) {
	a, err := parseAddr(val)
	if err != nil {
		return netip.Addr{}, err
	}
	if !a.Is4() {
		return netip.Addr{}, errors.New("not an IPv4 address")
	}
	return a, checkUnicast(a)
}

func parseGateway6(val string) (netip.Addr, error) {
	a, err := parseAddr(val)
	if err != nil {
		return netip.Addr{}, err
	}
	if !a.Is6() || a.Is4In6() {
		return netip.Addr{}, errors.New("not an IPv6 address")
	}
	return a, checkUnicast(a)
}

// parseDNS reads dns=: a comma-separated list of IPv4 and IPv6 addresses.
func parseDNS(val string) ([]netip.Addr, error) {
	words := strings.Split(val, ",")
	if len(words) > MaxDNS {
		return nil, fmt.Errorf("more than %d servers", MaxDNS)
	}
	dns := make([]netip.Addr, 0, len(words))
	for _, w := range words {
		a, err := parseAddr(w)
		if err != nil {
			return nil, err
		}
		if a.Is4In6() {
			return nil, fmt.Errorf("%s: write IPv4-mapped addresses as IPv4", w)
		}
		if a.IsUnspecified() || a.IsMulticast() || a == broadcast4 {
			return nil, fmt.Errorf("%s: not a unicast address", w)
		}
		dns = append(dns, a)
	}
	return dns, nil
}

// parseAddr is netip.ParseAddr without zones: the guest has a single interface, and a zone
// would let any character into the value.
func parseAddr(val string) (netip.Addr, error) {
	if val == "" {
		return netip.Addr{}, errors.New("empty address")
	}
	a, err := netip.ParseAddr(val)
	if err != nil {
		return netip.Addr{}, err
	}
	if a.Zone() != "" {
		return netip.Addr{}, errors.New("address with a zone")
	}
	return a, nil
}

// broadcast4 is IPv4's limited broadcast address.
var broadcast4 = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// checkUnicast rejects addresses a host cannot own or route through.
func checkUnicast(a netip.Addr) error {
	switch {
	case a.IsUnspecified():
		return errors.New("unspecified address")
	case a.IsLoopback():
		return errors.New("loopback address")
	case a.IsMulticast():
		return errors.New("multicast address")
	case a == broadcast4:
		return errors.New("broadcast address")
	}
	return nil
}

// lastAddr returns the highest address of p's subnet (its broadcast address, for IPv4).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(b)
}

// parseSwitch reads dhcp=.
func parseSwitch(val string) (bool, error) {
	switch val {
	case "on", "yes", "1", "true":
		return true, nil
	case "off", "no", "0", "false":
		return false, nil
	}
	return false, errors.New("want on or off")
}

func parseMTU(val string) (int, error) {
	n, err := strconv.ParseUint(val, 10, 32)
	if err != nil || n < MinMTU || n > MaxMTU {
		return 0, fmt.Errorf("MTU must be a number from %d to %d", MinMTU, MaxMTU)
	}
	return int(n), nil
}

// checkHostname accepts one label of RFC 1123 section 2.1: letters, digits and inner hyphens,
// at most 63 characters, possibly starting with a digit.
func checkHostname(name string) error {
	if name == "" || len(name) > 63 {
		return errors.New("host name must have 1 to 63 characters")
	}
	if name[0] == '-' || name[len(name)-1] == '-' {
		return errors.New("host name starts or ends with '-'")
	}
	for i := 0; i < len(name); i++ {
		ch := name[i]
		switch {
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9', ch == '-':
		case ch >= 0x80:
			return errors.New("host name has a non-ASCII character; only letters, digits and '-' are allowed")
		default:
			return fmt.Errorf("host name has %q; only letters, digits and '-' are allowed", ch)
		}
	}
	return nil
}

// String formats c on one line, in the syntax Parse reads: for a Config that Parse returned,
// Parse(c.String()) gives it back.
func (c Config) String() string {
	var words []string
	switch {
	case c.Addr.IsValid():
		words = append(words, "ip="+c.Addr.String())
	case c.DHCP:
		words = append(words, "ip=dhcp")
	default:
		words = append(words, "dhcp=off")
	}
	if c.Gateway.IsValid() {
		words = append(words, "gw="+c.Gateway.String())
	}
	if c.Addr6.IsValid() {
		words = append(words, "ip6="+c.Addr6.String())
	}
	if c.Gateway6.IsValid() {
		words = append(words, "gw6="+c.Gateway6.String())
	}
	if len(c.DNS) > 0 {
		dns := make([]string, len(c.DNS))
		for i, a := range c.DNS {
			dns[i] = a.String()
		}
		words = append(words, "dns="+strings.Join(dns, ","))
	}
	if c.MTU != 0 {
		words = append(words, "mtu="+strconv.Itoa(c.MTU))
	}
	if c.TxBatch != 0 {
		words = append(words, "txbatch="+strconv.Itoa(c.TxBatch))
	}
	if c.Hostname != "" {
		words = append(words, "hostname="+c.Hostname)
	}
	return strings.Join(words, " ")
}
