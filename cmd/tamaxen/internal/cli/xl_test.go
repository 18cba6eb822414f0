package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultMAC(t *testing.T) {
	seen := map[string]string{}
	for _, name := range []string{"web", "web2", "scaffold", "tamaxen-httpd", "a", strings.Repeat("x", 64)} {
		mac := defaultMAC(name)
		assert.Equal(t, mac, defaultMAC(name), "the same name, the same MAC")
		assert.Regexp(t, `^00:16:3e:[0-7][0-9a-f]:[0-9a-f]{2}:[0-9a-f]{2}$`, mac, "Xen's OUI, the top bit of the fourth octet clear")
		got, err := checkMAC(mac)
		require.NoError(t, err)
		assert.Equal(t, mac, got)
		assert.NotContains(t, seen, mac, "%s and %s", name, seen[mac])
		seen[mac] = name
	}
}

func TestCheckMAC(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" for an error
	}{
		{in: "00:16:3e:5a:11:20", want: "00:16:3e:5a:11:20"},
		{in: "00:16:3E:5A:11:20", want: "00:16:3e:5a:11:20"},
		{in: "00-16-3e-5a-11-20", want: "00:16:3e:5a:11:20"},
		{in: "02:00:00:00:00:01", want: "02:00:00:00:00:01"},
		{in: "01:00:5e:00:00:01"},
		{in: "ff:ff:ff:ff:ff:ff"},
		{in: "00:00:00:00:00:00"},
		{in: "00:16:3e:5a:11"},
		{in: "00:16:3e:5a:11:20:30:40"},
		{in: "00:16:3e:5a:11:zz"},
		{in: ""},
	} {
		got, err := checkMAC(tc.in)
		if tc.want == "" {
			assert.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got)
	}
}

func TestXLConfigValidate(t *testing.T) {
	good := xlConfig{Name: "web", Kernel: "web.elf", Memory: 64, MAC: "00:16:3e:00:00:01", Bridge: "xenbr0", Extra: "ip=10.0.0.2/24 gw=10.0.0.1"}
	require.NoError(t, good.validate())
	for _, tc := range []struct {
		name  string
		edit  func(*xlConfig)
		fault string
	}{
		{"no bridge", func(c *xlConfig) { c.Bridge = "" }, ""},
		{"no extra", func(c *xlConfig) { c.Extra = "" }, ""},
		{"least memory", func(c *xlConfig) { c.Memory = 16 }, ""},
		{"little memory", func(c *xlConfig) { c.Memory = 8 }, "-memory 8"},
		{"empty name", func(c *xlConfig) { c.Name = "" }, "-name"},
		{"name with a space", func(c *xlConfig) { c.Name = "my web" }, "-name"},
		{"name with a quote", func(c *xlConfig) { c.Name = `we"b` }, "-name"},
		{"long name", func(c *xlConfig) { c.Name = strings.Repeat("x", 65) }, "-name"},
		{"bad MAC", func(c *xlConfig) { c.MAC = "01:00:00:00:00:01" }, "-mac"},
		{"long bridge", func(c *xlConfig) { c.Bridge = "a-very-long-bridge" }, "-bridge"},
		{"quote in extra", func(c *xlConfig) { c.Extra = `hostname="x"` }, "-extra"},
		{"new line in extra", func(c *xlConfig) { c.Extra = "ip=10.0.0.2\nx" }, "-extra"},
		{"quote in kernel", func(c *xlConfig) { c.Kernel = `a".elf` }, "kernel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := c.validate()
			if tc.fault == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.fault)
			}
		})
	}
}

// parseXL reads an xl config the way xl's parser takes the subset tamaxen writes: comments,
// and KEY = "string" | number | [ "string", ... ].
func parseXL(t *testing.T, cfg string) map[string]any {
	t.Helper()
	str := `"(?:[^"\\\n])*"`
	line := regexp.MustCompile(`^([a-z_]+) = (` + str + `|[0-9]+|\[ ` + str + `(?:, ` + str + `)* \])$`)
	strs := regexp.MustCompile(str)
	out := map[string]any{}
	for _, l := range strings.Split(strings.TrimSuffix(cfg, "\n"), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		m := line.FindStringSubmatch(l)
		require.NotNil(t, m, "not an xl setting: %q", l)
		require.NotContains(t, out, m[1], "set twice")
		switch v := m[2]; {
		case v[0] == '"':
			out[m[1]] = v[1 : len(v)-1]
		case v[0] == '[':
			var list []string
			for _, s := range strs.FindAllString(v, -1) {
				list = append(list, s[1:len(s)-1])
			}
			out[m[1]] = list
		default:
			n, err := strconv.Atoi(v)
			require.NoError(t, err)
			out[m[1]] = n
		}
	}
	return out
}

func TestXLConfigRender(t *testing.T) {
	c := xlConfig{Name: "web", Kernel: "web.elf", Memory: 32, MAC: "00:16:3E:00:00:01", Bridge: "xenbr0", Extra: "ip=10.0.0.2/24 gw=10.0.0.1"}
	got := parseXL(t, string(c.render("web.cfg")))
	assert.Equal(t, map[string]any{
		"name": "web", "type": "pvh", "kernel": "web.elf", "memory": 32, "vcpus": 1,
		"vif": []string{"mac=00:16:3e:00:00:01,bridge=xenbr0"}, "on_crash": "preserve",
		"extra": "ip=10.0.0.2/24 gw=10.0.0.1",
	}, got)
	c.Bridge, c.Extra = "", ""
	got = parseXL(t, string(c.render("web.cfg")))
	assert.Equal(t, []string{"mac=00:16:3e:00:00:01"}, got["vif"], "no bridge: xl.conf's")
	assert.Equal(t, "", got["extra"])
}

func TestXLCommand(t *testing.T) {
	dir := t.TempDir()
	writeELF(t, filepath.Join(dir, "build", "web.elf"), note{name: "GNU", typ: 1, desc: []byte{1, 2, 3}}, pvhNote(0x2741c0))
	writeELF(t, filepath.Join(dir, "notpvh.elf"), note{name: "Go", typ: 4, desc: []byte("buildid")})
	read := func(path string) map[string]any {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		return parseXL(t, string(data))
	}

	code, out, errOut := run(t, dir, "xl", "build/web.elf")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "xl create -c web.cfg")
	cfg := read(filepath.Join(dir, "build", "web.cfg"))
	assert.Equal(t, "web", cfg["name"])
	assert.Equal(t, "web.elf", cfg["kernel"])
	assert.Equal(t, 64, cfg["memory"])
	assert.Equal(t, []string{"mac=" + defaultMAC("web") + ",bridge=xenbr0"}, cfg["vif"])
	assert.Equal(t, "", cfg["extra"])

	// Flags after the image too, and into a file of another name.
	code, _, errOut = run(t, dir, "xl", "-name", "front", "build/web.elf", "-memory", "32", "-mac", "00:16:3E:5A:11:20",
		"-bridge", "br1", "-extra", "ip=10.0.0.20/24 gw=10.0.0.1", "-o", "front.cfg")
	require.Equal(t, 0, code, errOut)
	cfg = read(filepath.Join(dir, "front.cfg"))
	assert.Equal(t, "front", cfg["name"])
	assert.Equal(t, 32, cfg["memory"])
	assert.Equal(t, []string{"mac=00:16:3e:5a:11:20,bridge=br1"}, cfg["vif"])
	assert.Equal(t, "ip=10.0.0.20/24 gw=10.0.0.1", cfg["extra"])

	code, out, _ = run(t, dir, "xl", "-o", "-", "build/web.elf")
	require.Equal(t, 0, code)
	assert.Equal(t, "pvh", parseXL(t, out)["type"])

	for _, tc := range []struct {
		args  []string
		code  int
		fault string
	}{
		{[]string{"xl", "-mac", "01:00:5e:00:00:01", "build/web.elf"}, 1, "multicast"},
		{[]string{"xl", "-mac", "nonsense", "build/web.elf"}, 1, "six hex octets"},
		{[]string{"xl", "-memory", "4", "build/web.elf"}, 1, "at least 16 MiB"},
		{[]string{"xl", "missing.elf"}, 1, "tamaxen build -o missing.elf"},
		{[]string{"xl", "notpvh.elf"}, 1, "no Xen PVH entry note"},
		{[]string{"xl"}, 2, "Usage: tamaxen xl"},
		{[]string{"xl", "a.elf", "b.elf"}, 2, "Usage: tamaxen xl"},
	} {
		code, _, errOut := run(t, dir, tc.args...)
		assert.Equal(t, tc.code, code, "%v", tc.args)
		assert.Contains(t, errOut, tc.fault, "%v", tc.args)
	}
}

func TestPVHEntry(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		notes []note
		want  uint32
	}{
		{"alone", []note{pvhNote(0x201234)}, 0x201234},
		{"after others", []note{{name: "Go", typ: 4, desc: []byte("id-of-odd-length")}, {name: "Xen", typ: 6, desc: []byte("xen-3.0")}, pvhNote(0x27a5c0)}, 0x27a5c0},
		{"none", []note{{name: "Xen", typ: 6, desc: []byte("xen-3.0")}}, 0},
		{"wrong owner", []note{{name: "Xe", typ: xenElfnotePhys32Entry, desc: []byte{1, 2, 3, 4}}}, 0},
	} {
		path := filepath.Join(dir, tc.name+".elf")
		writeELF(t, path, tc.notes...)
		got, err := pvhEntry(path)
		if tc.want == 0 {
			assert.Error(t, err, tc.name)
			continue
		}
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, got, tc.name)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "text.elf"), []byte("not an ELF"), 0o644))
	_, err := pvhEntry(filepath.Join(dir, "text.elf"))
	assert.Error(t, err)
}
