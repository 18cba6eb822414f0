//go:build !race

package netfront

const raceEnabled = false
