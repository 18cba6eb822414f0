// Package layers holds the test that keeps the module's imports pointing down, as
// docs/architecture.md draws them: portable Xen services under xen/ never import the driver,
// the network stack, the TamaGo binding layer or the board; the simulated Xen is a peer of the
// real platform, not a user of the driver; only netstack/ imports gVisor and only the board
// TamaGo. The package has no code; the rules are the table in layers_test.go, and
// `go test ./...` checks every source file of the module against it, whatever its build tags.
package layers
