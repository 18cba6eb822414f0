//go:build !(tamago && amd64)

package main

import "io"

// writeBoardMetrics: hosted, there is no board.
func writeBoardMetrics(io.Writer) {}
