// The vif layout, key by key against what libxl writes (testdata/vif-layout.txt).

package xenstored

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// xenstore-ls -fp line: path = "value"   (perms)
var lsLine = regexp.MustCompile(`^(\S+) = "(.*)"\s+\((.*)\)$`)

type lsEntry struct{ value, perms string }

func readLayout(t *testing.T, subst map[string]string) (map[string]lsEntry, []string) {
	f, err := os.Open("testdata/vif-layout.txt")
	require.NoError(t, err)
	defer f.Close()
	want := make(map[string]lsEntry)
	var order []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for k, v := range subst {
			line = strings.ReplaceAll(line, "{"+k+"}", v)
		}
		m := lsLine.FindStringSubmatch(line)
		require.NotNil(t, m, "bad testdata line %q", line)
		want[m[1]] = lsEntry{m[2], m[3]}
		order = append(order, m[1])
	}
	require.NoError(t, sc.Err())
	return want, order
}

func permString(ps []xenstore.Perm) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func TestAddVifLayout(t *testing.T) {
	for _, tc := range []struct {
		domid   int
		devid   int
		mac     string
		backend int
	}{
		{domid: 7, devid: 0, mac: "00:16:3e:5a:11:01", backend: 0},
		{domid: 12, devid: 3, mac: "00:16:3e:00:00:0c", backend: 0},
	} {
		s := newStore(t)
		require.NoError(t, s.MakeDomain(12, "g12"))
		require.NoError(t, s.MakeDomain(7, "g7"))
		require.NoError(t, s.AddVif(xenDom(tc.domid), tc.devid, tc.mac, xenDom(tc.backend)))
		want, order := readLayout(t, map[string]string{
			"domid": itoa(tc.domid), "devid": itoa(tc.devid), "mac": tc.mac, "backend": itoa(tc.backend),
		})
		front, back := VifPaths(xenDom(tc.domid), tc.devid, xenDom(tc.backend))
		got := make(map[string]lsEntry)
		for _, root := range []string{back, front} {
			s.Walk(root, func(p, v string, ps []xenstore.Perm) { got[p] = lsEntry{v, permString(ps)} })
		}
		for _, k := range order {
			assert.Equal(t, want[k], got[k], "%s", k)
		}
		for k := range got {
			_, ok := want[k]
			assert.True(t, ok, "unexpected key %s", k)
		}
	}
}

// TestLayoutMatchesRealXen checks the reference against the dumps taken on real Xen: 4.17 with
// Debian 12's dom0 and 4.20 with Debian 13's (the hello suite of make xen-test XEN=..., vif 0,
// backend dom0, after netback went to InitWait). The two releases write the same keys with
// the same values and permissions. Only the hotplug script (set by the test image's xl.conf)
// and the backend state netback moved on may differ from the reference.
func TestLayoutMatchesRealXen(t *testing.T) {
	for _, tc := range []struct {
		xen, domid string
	}{
		{"4.17", "1"},
		{"4.20", "2"},
	} {
		t.Run("xen-"+tc.xen, func(t *testing.T) {
			want, order := readLayout(t, map[string]string{"domid": tc.domid, "devid": "0", "mac": "00:16:3e:5a:11:01", "backend": "0"})
			real := readRealDump(t, "testdata/vif-xl-"+tc.xen+"-real.txt")
			back := "/local/domain/0/backend/vif/" + tc.domid + "/0/"
			for _, k := range order {
				got, ok := real[k]
				require.True(t, ok, "real Xen has no %s", k)
				switch k {
				case back + "script":
					assert.Equal(t, want[k].perms, got.perms, k)
				case back + "state":
					assert.Equal(t, "2", got.value, "netback had reached InitWait")
				default:
					assert.Equal(t, want[k], got, k)
				}
			}
			for k := range real {
				if _, ok := want[k]; ok {
					continue
				}
				name := k[strings.LastIndexByte(k, '/')+1:]
				added := strings.HasPrefix(name, "feature-") || name == "multi-queue-max-queues" || name == "hotplug-status"
				assert.True(t, added, "real Xen has %s, which neither the reference nor netback explains", k)
			}
		})
	}
}

// readRealDump reads a `xenstore-ls -fp` dump: path to value and permissions.
func readRealDump(t *testing.T, name string) map[string]lsEntry {
	t.Helper()
	f, err := os.Open(name)
	require.NoError(t, err)
	defer f.Close()
	real := make(map[string]lsEntry)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := lsLine.FindStringSubmatch(sc.Text())
		require.NotNil(t, m, "bad line %q", sc.Text())
		real[m[1]] = lsEntry{m[2], m[3]}
	}
	require.NoError(t, sc.Err())
	return real
}
