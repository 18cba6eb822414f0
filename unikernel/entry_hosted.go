// The boot timeline's clock hosted: time since the process started.

//go:build !tamago

package unikernel

import "time"

// processStart stands for the process's start: package variables are set before main, after
// the runtime's own start, which takes well under a millisecond.
var processStart = time.Now()

func sinceEntry() time.Duration { return time.Since(processStart) }
