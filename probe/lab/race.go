//go:build race

package lab

// raceBuild is true when the tests run under the race detector: the lab's
// darkwatch binary is then built with it too, so that the daemons the lab
// tests start are checked for data races as well.
const raceBuild = true
