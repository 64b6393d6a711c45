package recfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// File is a JSON Lines record file open for appending.
type File struct{ *os.File }

// Open opens a JSON Lines file for appending, creating it 0640. A file that
// does not end in a newline was cut short mid-record (a killed sweep): its
// torn last line is cut off, and said so on warn, so that the records
// appended next start on a line of their own.
func Open(path string, warn io.Writer) (*File, error) {
	fh, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	fi, err := fh.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		return &File{fh}, nil
	}
	keep, err := lastNewline(fh, fi.Size())
	if err == nil && keep < fi.Size() {
		err = fh.Truncate(keep)
		if err == nil {
			fmt.Fprintf(warn, "%s: last line was cut short (%d bytes without a newline, from an interrupted run); removed it\n",
				path, fi.Size()-keep)
		}
	}
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("%s: repairing its torn last line: %w", path, err)
	}
	return &File{fh}, nil
}

// Close makes the records durable and closes the file. Devices and pipes,
// which cannot sync, are closed all the same.
func (f *File) Close() error {
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		f.File.Close()
		return err
	}
	return f.File.Close()
}

// lastNewline gives the length of f up to and including its last newline (0
// when there is none).
func lastNewline(f *os.File, size int64) (int64, error) {
	buf := make([]byte, 64<<10)
	for end := size; end > 0; {
		start := max(end-int64(len(buf)), 0)
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

// OpenOut opens where records go: the record file at path, appended to so
// that no earlier round is lost (see Open), or stdout when path is "" or
// "-". Its close function closes the file; stdout stays open.
func OpenOut(path string, stdout io.Writer, warn io.Writer) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		return stdout, func() error { return nil }, nil
	}
	f, err := Open(path, warn)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}
