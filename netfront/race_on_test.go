//go:build race

package netfront

// Under the race detector, copying every frame size from 14 to 65535 bytes through the
// simulator takes minutes; the sweep steps through the sizes instead, and `make test` runs the
// full sweep once more without the detector.
const raceEnabled = true
