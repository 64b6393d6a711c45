package recfile

import (
	"io"
	"os"
	"path/filepath"
)

// Whole is a file written whole or not at all: into a temporary file beside
// its path, renamed over the path only once everything was written, synced
// and closed.
type Whole struct {
	path string
	tmp  *os.File
}

// CreateWhole creates the temporary file of path in path's directory,
// named by pattern (as os.CreateTemp takes it, without the directory).
func CreateWhole(path, pattern string) (*Whole, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), pattern)
	if err != nil {
		return nil, err
	}
	return &Whole{path: path, tmp: tmp}, nil
}

// Write writes the file through write, makes it mode 0640, syncs it and
// renames it over the path. When anything fails, the file that was at the
// path stays as it was and the temporary file is removed.
func (w *Whole) Write(write func(io.Writer) error) (err error) {
	defer func() {
		if err != nil {
			w.tmp.Close()
			os.Remove(w.tmp.Name())
		}
	}()
	if err = write(w.tmp); err != nil {
		return err
	}
	if err = w.tmp.Chmod(0o640); err != nil {
		return err
	}
	if err = w.tmp.Sync(); err != nil {
		return err
	}
	if err = w.tmp.Close(); err != nil {
		return err
	}
	return os.Rename(w.tmp.Name(), w.path)
}
