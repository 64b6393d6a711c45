package recfile

import (
	"fmt"
	"io"
	"path/filepath"

	"darkwatch/results"
)

// Export writes the records each walks as JSON Lines, as sweep --out writes
// them, to the file path, whole or not at all (through a temporary file
// beside it, see Whole), or to w when path is "" or "-". It returns how many
// records it wrote. each calls write with every record and returns the walk's
// error.
func Export(path string, w io.Writer, each func(write func(results.Record)) error) (int, error) {
	n := 0
	all := func(w io.Writer) error {
		rw := results.NewWriter(w, true)
		if err := each(func(r results.Record) { rw.Write(r); n++ }); err != nil {
			return err
		}
		return rw.Flush()
	}
	return n, WriteOut(path, w, all)
}

// WriteOut writes through write to the file path, whole or not at all (see
// Whole: when anything fails, the file that was there stays as it was), or
// to w when path is "" or "-".
func WriteOut(path string, w io.Writer, write func(io.Writer) error) error {
	if path == "" || path == "-" {
		return write(w)
	}
	f, err := CreateWhole(path, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	if err := f.Write(write); err != nil {
		return fmt.Errorf("%s: %w; the file there is unchanged", path, err)
	}
	return nil
}
