// Package recfile holds darkwatch's files of results: JSON Lines record
// files as sweep --out and run --out append them and import reads them back
// (Open repairs the torn last line a killed run leaves; ReadFile checks a
// file whole), the Sink that shares one record Writer between goroutines,
// and files written whole or not at all (Whole), as exports and reports are.
package recfile
