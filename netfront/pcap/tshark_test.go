// Interoperability: tshark reads what the Writer writes (skipped when tshark is not installed).

package pcap

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const httpRequest = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

// checksum is the Internet checksum (RFC 1071) of the concatenation of parts, each of even
// length except possibly the last.
func checksum(parts ...[]byte) uint16 {
	var sum uint32
	for _, p := range parts {
		for i := 0; i+1 < len(p); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(p[i:]))
		}
		if len(p)%2 == 1 {
			sum += uint32(p[len(p)-1]) << 8
		}
	}
	for sum > 0xFFFF {
		sum = sum&0xFFFF + sum>>16
	}
	return ^uint16(sum)
}

// httpFrame is an Ethernet/IPv4/TCP frame from 10.0.0.2:40000 to 10.0.0.1:80 carrying payload
// at sequence number seq, with valid IPv4 and TCP checksums.
func httpFrame(seq uint32, payload string) []byte {
	const ethLen, ipLen, tcpLen = 14, 20, 20
	f := make([]byte, ethLen+ipLen+tcpLen+len(payload))
	be := binary.BigEndian

	eth := f[:ethLen]
	copy(eth[0:], []byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}) // to the backend side
	copy(eth[6:], []byte{0x00, 0x16, 0x3e, 0x00, 0x00, 0x02}) // from the guest (Xen OUI)
	be.PutUint16(eth[12:], 0x0800)

	ip := f[ethLen : ethLen+ipLen]
	ip[0] = 0x45 // version 4, 5 words
	be.PutUint16(ip[2:], uint16(ipLen+tcpLen+len(payload)))
	be.PutUint16(ip[4:], 1)      // identification
	be.PutUint16(ip[6:], 0x4000) // don't fragment
	ip[8] = 64                   // TTL
	ip[9] = 6                    // TCP
	copy(ip[12:], []byte{10, 0, 0, 2})
	copy(ip[16:], []byte{10, 0, 0, 1})
	be.PutUint16(ip[10:], checksum(ip))

	tcp := f[ethLen+ipLen:]
	be.PutUint16(tcp[0:], 40000)
	be.PutUint16(tcp[2:], 80)
	be.PutUint32(tcp[4:], seq)
	be.PutUint32(tcp[8:], 1)    // acknowledgment
	tcp[12] = 5 << 4            // 5 words, no options
	tcp[13] = 0x18              // PSH, ACK
	be.PutUint16(tcp[14:], 502) // window
	copy(tcp[tcpLen:], payload)
	pseudo := make([]byte, 12)
	copy(pseudo, ip[12:20])
	pseudo[9] = 6
	be.PutUint16(pseudo[10:], uint16(len(tcp)))
	be.PutUint16(tcp[16:], checksum(pseudo, tcp))
	return f
}

func TestHTTPFrameChecksums(t *testing.T) {
	f := httpFrame(1, httpRequest)
	ip, tcp := f[14:34], f[34:]
	assert.Zero(t, checksum(ip), "IPv4 header sums to 0xFFFF")
	pseudo := append(append([]byte{}, ip[12:20]...), 0, 6, 0, byte(len(tcp)))
	assert.Zero(t, checksum(pseudo, tcp), "TCP segment and pseudo-header sum to 0xFFFF")
}

// tshark runs tshark with name resolution off and a configuration directory of its own, so a
// user's profile cannot change what it prints, and returns its standard output. Run as root it
// warns on standard error, which no option or variable silences; the warning is ignored.
func tshark(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("tshark", append([]string{"-n"}, args...)...)
	cmd.Env = append(os.Environ(), "WIRESHARK_CONFIG_DIR="+t.TempDir())
	out, err := cmd.Output()
	return string(out), err
}

func TestTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	file := filepath.Join(t.TempDir(), "vif0.pcapng")
	f, err := os.Create(file)
	require.NoError(t, err)
	w, err := NewWriter(f, "vif0", 0)
	require.NoError(t, err)
	ts := time.Unix(1700000000, 123456789)
	tx := Meta{Queue: 1, GSOType: 1, GSOSize: 1448, CsumBlank: true}
	rx := Meta{DataValidated: true}
	second := "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
	require.NoError(t, w.WritePacket(ts, Outbound, httpFrame(1, httpRequest), tx))
	require.NoError(t, w.WritePacket(ts.Add(time.Microsecond), Inbound, httpFrame(1+uint32(len(httpRequest)), second), rx))
	require.NoError(t, w.Close())
	require.NoError(t, f.Close())
	comments := []string{
		"queue=1 gso=tcpv4 mss=1448 csum=partial",
		"queue=0 csum=validated",
	}

	summary, err := tshark(t, "-r", file)
	require.NoError(t, err)
	assert.Contains(t, summary, "HTTP")
	assert.Contains(t, summary, "GET / HTTP/1.1")
	assert.Contains(t, summary, "GET /b HTTP/1.1")

	detail, err := tshark(t, "-r", file, "-V")
	require.NoError(t, err)
	for _, want := range []string{"vif0", "Direction: Outbound", "Direction: Inbound"} {
		assert.Contains(t, detail, want)
	}

	times, err := tshark(t, "-r", file, "-T", "fields", "-e", "frame.time_epoch")
	require.NoError(t, err)
	assert.Contains(t, times, "1700000000.123456789", "nanoseconds survive")

	// The comment field is frame.comment from Wireshark 1.8 on; pkt_comment names the
	// protocol and prints only its own name, which the check below passes over.
	var field string
	for _, name := range []string{"frame.comment", "pkt_comment", "comment"} {
		out, err := tshark(t, "-r", file, "-T", "fields", "-e", name)
		if err == nil && strings.Contains(out, comments[0]) {
			assert.Equal(t, comments, strings.Split(strings.TrimSpace(out), "\n"), "one comment a line")
			field = name
			break
		}
	}
	require.NotEmpty(t, field, "no tshark field shows the packet comment")
	t.Logf("tshark shows the comment in field %s", field)
}
