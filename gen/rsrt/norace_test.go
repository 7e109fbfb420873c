//go:build !race

package rsrt_test

const raceEnabled = false
