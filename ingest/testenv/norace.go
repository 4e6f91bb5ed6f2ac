//go:build !race

package testenv

// raceEnabled: built with -race.
const raceEnabled = false
