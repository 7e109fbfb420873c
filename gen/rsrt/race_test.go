//go:build race

package rsrt_test

// raceEnabled shortens the longest loops under the race detector.
const raceEnabled = true
