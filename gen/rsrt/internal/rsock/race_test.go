//go:build race

package rsock

// raceEnabled: the race detector's sync.Pool drops values at random, so
// allocation counts do not hold under it.
const raceEnabled = true
