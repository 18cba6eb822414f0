//go:build !race

package netfront_test

const raceEnabled = false
