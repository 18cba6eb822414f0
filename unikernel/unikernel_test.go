package unikernel

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseForward(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Forward
		bad  bool
	}{
		{in: "127.0.0.1:8080-:80", want: Forward{Host: "127.0.0.1:8080", Guest: 80}},
		{in: "[::1]:8443-443", want: Forward{Host: "[::1]:8443", Guest: 443}},
		{in: "127.0.0.1:0-:7", want: Forward{Host: "127.0.0.1:0", Guest: 7}},
		{in: "127.0.0.1:8080", bad: true},
		{in: "8080-:80", bad: true},
		{in: "127.0.0.1:8080-:0", bad: true},
		{in: "127.0.0.1:8080-:65536", bad: true},
		{in: "127.0.0.1:8080-:x", bad: true},
	} {
		f, err := parseForward(tc.in)
		if tc.bad {
			assert.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, f)
		g, err := parseForward(f.String())
		require.NoError(t, err)
		assert.Equal(t, f, g, "String round-trips")
	}
}
