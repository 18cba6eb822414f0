// The guest command line (extra= in the xl config) as key=value words.

package pvh

import "strings"

// Cmdline is the parsed guest command line: space-separated words, each "key=value" or a bare
// flag. Later words override earlier ones.
type Cmdline struct {
	raw  string
	args map[string]string
}

// ParseCmdline splits a command line into its words.
func ParseCmdline(s string) Cmdline {
	c := Cmdline{raw: s, args: map[string]string{}}
	for _, w := range strings.Fields(s) {
		k, v, _ := strings.Cut(w, "=")
		c.args[k] = v
	}
	return c
}

// String returns the command line as given.
func (c Cmdline) String() string { return c.raw }

// Get returns the value of key and whether it was given.
func (c Cmdline) Get(key string) (string, bool) {
	v, ok := c.args[key]
	return v, ok
}
