//go:build race

package robustness

// raceEnabled shortens the tests whose cost the race detector multiplies.
const raceEnabled = true
