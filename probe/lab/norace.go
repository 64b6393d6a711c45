//go:build !race

package lab

// raceBuild is false in an ordinary test run: the lab's binary is the
// static, cgo-free one that ships.
const raceBuild = false
