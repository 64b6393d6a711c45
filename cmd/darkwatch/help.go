package main

import (
	"embed"
	"strings"
)

// helpFiles hold the commands' long help and examples, which teach darkwatch
// and are too long to read well among the code: help/NAME.txt is the long
// help of a command and help/NAME.example.txt its examples, NAME being the
// command's path below darkwatch joined by '-' ("bgp-dump"; "darkwatch" for
// the root).
//
//go:embed help/*.txt
var helpFiles embed.FS

// help is the text of help/name.txt without its final newline.
func help(name string) string {
	b, err := helpFiles.ReadFile("help/" + name + ".txt")
	if err != nil {
		panic("darkwatch: no help text " + name)
	}
	return strings.TrimSuffix(string(b), "\n")
}
