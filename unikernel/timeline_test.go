//go:build !tamago

package unikernel

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/netstack"
)

// timelineLine matches the console's boot timeline, as tools/xentest reads it.
var timelineLine = regexp.MustCompile(`^tamaxen: boot timeline ms:((?: [a-z-]+=[0-9]+\.[0-9])+)$`)

// parseTimeline returns the stages of a timeline line, in order.
func parseTimeline(t *testing.T, line string) (names []string, ms []float64) {
	t.Helper()
	m := timelineLine.FindStringSubmatch(line)
	require.NotNil(t, m, "line %q", line)
	for _, f := range strings.Fields(m[1]) {
		name, v, _ := strings.Cut(f, "=")
		x, err := strconv.ParseFloat(v, 64)
		require.NoError(t, err)
		names, ms = append(names, name), append(ms, x)
	}
	return names, ms
}

// Hosted, Start prints the boot timeline as soon as the network is up, and the whole of it,
// first packet included, once a frame comes in; the stages are in order and never go back.
func TestStartPrintsTimeline(t *testing.T) {
	Hosted = &HostedFlags{Cmdline: "ip=10.0.0.2/24", Forward: []Forward{{Host: "127.0.0.1:0", Guest: 80}}}
	defer func() { Hosted = nil }()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stdout := os.Stdout
	os.Stdout = w
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	u, err := Start(ctx, Options{Name: "timeline"})
	cancel()
	os.Stdout = stdout
	require.NoError(t, err)
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), TimelinePrefix) {
				lines <- sc.Text()
			}
		}
		close(lines)
	}()

	first := <-lines
	names, _ := parseTimeline(t, first)
	assert.Equal(t, []string{"runtime", "xenstore", "netfront", "stack"}, names[:4])

	l, err := u.Listen("tcp", ":80")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })}
	go func() { _ = srv.Serve(l) }()
	resp, err := http.Get("http://" + u.Forwarded()[0].String() + "/")
	require.NoError(t, err)
	_ = resp.Body.Close()

	full := first
	if len(names) < 5 {
		select {
		case full = <-lines:
		case <-time.After(30 * time.Second):
			t.Fatal("no timeline line with the first packet")
		}
	}
	names, ms := parseTimeline(t, full)
	assert.Equal(t, []string{"runtime", "xenstore", "netfront", "stack", "first-packet"}, names)
	for i := 1; i < len(ms); i++ {
		assert.GreaterOrEqual(t, ms[i], ms[i-1], "%s after %s", names[i], names[i-1])
	}
	_, ok := u.Timeline().At(netstack.StageFirstPacket)
	assert.True(t, ok)

	_ = srv.Close()
	require.NoError(t, u.Close())
	_ = w.Close()
	_ = r.Close()
}
