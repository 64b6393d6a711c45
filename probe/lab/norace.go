//go:build !race

package lab

// raceBuild is false in an ordinary test run: the lab's binary is the
// static, cgo-free one that ships.
const raceBuild = false

// Slowdown is how many times longer a lab test makes the rounds of the
// daemons it starts: 1, but under the race detector.
const Slowdown = 1

// FullRate is the --rate of a lab sweep meant to go as fast as the machine
// allows: 0, no cap (but under the race detector).
const FullRate = "0"
