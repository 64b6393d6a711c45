//go:build race

package lab

// raceBuild is true when the tests run under the race detector: the lab's
// darkwatch binary is then built with it too, so that the daemons the lab
// tests start are checked for data races as well.
const raceBuild = true

// Slowdown is how many times longer a lab test makes the rounds of the
// daemons it starts: code under the race detector runs several times slower,
// and a round must still hold its probes and its analysis.
const Slowdown = 3

// FullRate is the --rate of a lab sweep meant to go as fast as the machine
// allows: under the race detector the reader of replies keeps up with some
// 20,000 a second, not with an uncapped sender.
const FullRate = "20000"
