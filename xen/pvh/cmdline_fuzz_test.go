// Fuzz target: the guest command line, as the toolstack's extra= hands it over.

package pvh

import (
	"strings"
	"testing"
)

// FuzzParseCmdline: any command line parses, String gives it back unchanged, and Get answers
// for every key with the value of the last word naming it, and for no other key.
func FuzzParseCmdline(f *testing.F) {
	for _, s := range []string{
		"",
		"timeout=30s",
		"ip=10.0.0.2/24 gw=10.0.0.1 dns=10.0.0.1 ip6=fd00::2/64 gw6=fd00::1 mtu=1500 queues=2 hostname=web",
		"  timeout=30s panic ip=10.0.0.2/24 timeout=5s ",
		"a==b =c d= \t\n\v\f\r e\u00a0f=1 \u2028g=2",
		"key=val=ue key",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := ParseCmdline(s)
		if c.String() != s {
			t.Fatalf("String() = %q, want %q", c.String(), s)
		}
		want := map[string]string{}
		for _, w := range strings.Fields(s) {
			k, v, _ := strings.Cut(w, "=")
			want[k] = v
		}
		for k, v := range want {
			got, ok := c.Get(k)
			if !ok || got != v {
				t.Fatalf("Get(%q) = %q, %v; want %q", k, got, ok, v)
			}
		}
		for _, k := range []string{"ip", "timeout", "queues", "=", " "} {
			if _, ok := want[k]; !ok {
				if _, ok := c.Get(k); ok {
					t.Fatalf("Get(%q) found a key that is not there", k)
				}
			}
		}
	})
}
