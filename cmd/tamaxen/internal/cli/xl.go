// tamaxen xl: the xl config of an image.

package cli

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

const xlDoc = `
Writes an xl config for the image FILE.elf, by default FILE.cfg next to it: a PVH guest with
one vif on a bridge, kernel = the image's file name (start it from the folder holding both:
xl create -c FILE.cfg), on_crash = "preserve" so that a crashed guest stays for xl dmesg and
its console. The MAC is derived from the name unless -mac gives one, so it stays the same
from one run to the next (and from one host to another). -extra is the guest command line:
ip=ADDR/LEN gw= dns= ip6=ADDR/LEN gw6= mtu= queues=N hostname= stats=5s; without ip= the
guest asks DHCP.`

// xlConfig is what an xl config of a tamaxen guest says.
type xlConfig struct {
	Name   string // domain name
	Kernel string // the image, as xl create finds it (relative to where it runs)
	Memory int    // MiB
	MAC    string // the vif's, 00:16:3e:xx:xx:xx style
	Bridge string // "" leaves the bridge to xl.conf's default
	Extra  string // guest command line
}

var (
	domainName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	bridgeName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)
)

// minMemory is the least memory the guests are known to run in (docs/reliability.md budgets the
// network stack down to 16 MiB).
const minMemory = 16

// defaultMAC derives a MAC from the domain name: Xen's OUI 00:16:3e, as xl's own random ones,
// and three bytes of the name's SHA-256 with the top bit clear (libxl clears it in the ones
// it makes), so that a guest keeps its MAC, and the addresses its peers learnt, across runs.
func defaultMAC(name string) string {
	h := sha256.Sum256([]byte(name))
	return fmt.Sprintf("00:16:3e:%02x:%02x:%02x", h[0]&0x7f, h[1], h[2])
}

// checkMAC validates a vif MAC and returns it in xl's form (lower case, colons): six octets,
// unicast, not all zero.
func checkMAC(s string) (string, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return "", fmt.Errorf("-mac %q: want six hex octets, as 00:16:3e:12:34:56", s)
	}
	if hw[0]&1 != 0 {
		return "", fmt.Errorf("-mac %s: a multicast address cannot be a vif's (the first octet must be even)", s)
	}
	if string(hw) == "\x00\x00\x00\x00\x00\x00" {
		return "", fmt.Errorf("-mac %s: the zero address cannot be a vif's", s)
	}
	return hw.String(), nil
}

func (c xlConfig) validate() error {
	if !domainName.MatchString(c.Name) {
		return fmt.Errorf("-name %q: want letters, digits, '.', '_' or '-' (at most 64, not first)", c.Name)
	}
	if c.Memory < minMemory {
		return fmt.Errorf("-memory %d: a guest needs at least %d MiB", c.Memory, minMemory)
	}
	if _, err := checkMAC(c.MAC); err != nil {
		return err
	}
	if c.Bridge != "" && !bridgeName.MatchString(c.Bridge) {
		return fmt.Errorf("-bridge %q: not a Linux interface name", c.Bridge)
	}
	if strings.ContainsAny(c.Extra, "\"\\\n") {
		return fmt.Errorf("-extra %q: no quotes, backslashes or new lines in an xl string", c.Extra)
	}
	if c.Kernel == "" || strings.ContainsAny(c.Kernel, "\"\\\n") {
		return fmt.Errorf("kernel %q: not a file name xl can take", c.Kernel)
	}
	return nil
}

// render writes the config; cfgName is its own file name, for the comment saying how to start it.
func (c xlConfig) render(cfgName string) []byte {
	mac, _ := checkMAC(c.MAC)
	vif := "mac=" + mac
	if c.Bridge != "" {
		vif += ",bridge=" + c.Bridge
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# xl config of %s, a tamaxen unikernel (written by tamaxen xl). On the Xen host, from\n", c.Name)
	fmt.Fprintf(&b, "# the folder holding %s: xl create -c %s (Ctrl-] leaves the console).\n", c.Kernel, cfgName)
	b.WriteString("# extra= is the guest command line: ip=ADDR/LEN gw= dns= ip6=ADDR/LEN gw6= mtu= queues=N\n")
	b.WriteString("# hostname= stats=5s (without ip=, the guest asks DHCP).\n")
	fmt.Fprintf(&b, "name = %q\n", c.Name)
	b.WriteString("type = \"pvh\"\n")
	fmt.Fprintf(&b, "kernel = %q\n", c.Kernel)
	fmt.Fprintf(&b, "memory = %d\n", c.Memory)
	b.WriteString("vcpus = 1\n")
	fmt.Fprintf(&b, "vif = [ %q ]\n", vif)
	b.WriteString("on_crash = \"preserve\"\n")
	fmt.Fprintf(&b, "extra = %q\n", c.Extra)
	return []byte(b.String())
}

// xlFlags are the flags of tamaxen xl, shared with tamaxen xen-run.
type xlFlags struct {
	name, mac, bridge, extra *string
	memory                   *int
}

func addXLFlags(fs *flag.FlagSet, extra string) xlFlags {
	return xlFlags{
		name:   fs.String("name", "", "domain `name` (default: the image's file name without .elf)"),
		memory: fs.Int("memory", 64, "guest memory in `MiB`"),
		mac:    fs.String("mac", "", "the vif's `MAC` (default: derived from the name, 00:16:3e:xx:xx:xx)"),
		bridge: fs.String("bridge", "xenbr0", "the `bridge` the vif joins (\"\": xl.conf's default)"),
		extra:  fs.String("extra", extra, "the guest command line, e.g. 'ip=10.0.0.2/24 gw=10.0.0.1' (default: DHCP)"),
	}
}

// config makes the xl config for the image at elfPath from the flags.
func (f xlFlags) config(elfPath string) (xlConfig, error) {
	base := filepath.Base(elfPath)
	c := xlConfig{Name: *f.name, Kernel: base, Memory: *f.memory, MAC: *f.mac, Bridge: *f.bridge, Extra: *f.extra}
	if c.Name == "" {
		c.Name = strings.TrimSuffix(base, ".elf")
	}
	if c.MAC == "" {
		c.MAC = defaultMAC(c.Name)
	} else if _, err := checkMAC(c.MAC); err != nil {
		return c, err
	}
	return c, c.validate()
}

func runXL(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "xl", "[-name NAME] [-memory MiB] [-mac MAC] [-bridge BR] [-extra ARGS] [-o FILE] FILE.elf", xlDoc)
	f := addXLFlags(fs, "")
	out := fs.String("o", "", "write the config to `FILE` (default: the image's name with .cfg; - for stdout)")
	arg, err := oneArg(fs, args)
	if err != nil {
		return err
	}
	elfPath := inDir(env.Dir, arg)
	if _, err := os.Stat(elfPath); err != nil {
		return fmt.Errorf("%w (build it first: tamaxen build -o %s)", err, arg)
	}
	if _, err := pvhEntry(elfPath); err != nil {
		return fmt.Errorf("%s: %w", arg, err)
	}
	c, err := f.config(elfPath)
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err := env.Stdout.Write(c.render(strings.TrimSuffix(c.Kernel, ".elf") + ".cfg"))
		return err
	}
	path := *out
	if path == "" {
		path = strings.TrimSuffix(elfPath, ".elf") + ".cfg"
	} else {
		path = inDir(env.Dir, path)
	}
	if err := os.WriteFile(path, c.render(filepath.Base(path)), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %s: xl create -c %s, from the folder holding %s\n", path, filepath.Base(path), c.Kernel)
	return nil
}
