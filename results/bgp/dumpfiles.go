package bgp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
)

// DumpFiles prints every route of the MRT files on w as bgpdump -m does,
// one line each. A file that is truncated or corrupt is printed up to its
// bad record, and its *FormatError is among those returned in bad; any other
// error stops it.
func DumpFiles(w io.Writer, files []string) (bad []error, err error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	var line []byte
	for _, f := range files {
		err := ReadFile(f, func(r Route) error {
			line = AppendDump(line[:0], &r)
			_, err := bw.Write(line)
			return err
		})
		var fe *FormatError
		switch {
		case errors.As(err, &fe):
			bad = append(bad, err)
		case err != nil:
			bw.Flush()
			return bad, err
		}
	}
	return bad, bw.Flush()
}

// ImportFiles stores the routes of the MRT files in st (see ImportFile) and
// says on w, for each file, how many routes it held and how many were new.
// A file that is truncated or corrupt is stored up to its bad record, and its
// error, with those counts, is among those returned in bad; any other error
// stops it, naming the file.
func ImportFiles(ctx context.Context, st RouteStore, files []string, w io.Writer) (bad []error, err error) {
	for _, f := range files {
		n, added, err := ImportFile(ctx, st, f)
		var fe *FormatError
		switch {
		case errors.As(err, &fe):
			bad = append(bad, fmt.Errorf("%w (%d routes before it stored, %d new)", err, n, added))
			continue
		case err != nil:
			return bad, fmt.Errorf("%s: %w (%d routes added before it)", f, err, added)
		}
		fmt.Fprintf(w, "%s: %d routes, %d new\n", f, n, added)
	}
	return bad, nil
}
