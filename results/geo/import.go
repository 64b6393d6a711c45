package geo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// DelegationStore keeps the delegations of statistics files
// (results/store's stores are DelegationStores).
type DelegationStore interface {
	// PutDelegations replaces every delegation stored from files of
	// h.Registry (the version line's registry) with ds, read from source,
	// in one transaction, and returns how many it stored.
	PutDelegations(ctx context.Context, source string, h Header, ds []Delegation) (int, error)
}

// ImportFile reads the statistics file at path whole and, when every line
// is good, puts its delegations in st under the file's base name: they
// replace what an earlier file of the same registry left there, so that a
// delegation a newer file no longer lists leaves the store too. A bad line
// stores nothing and is a *SyntaxError naming the file and line.
func ImportFile(ctx context.Context, st DelegationStore, path string) (Header, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, 0, fmt.Errorf("geo: %w", err)
	}
	defer f.Close()
	return Import(ctx, st, f, path)
}

// Import is ImportFile of a file already open; name is the file's name.
func Import(ctx context.Context, st DelegationStore, r io.Reader, name string) (Header, int, error) {
	var ds []Delegation
	h, err := Read(r, name, func(d Delegation) error {
		ds = append(ds, d)
		return nil
	})
	if err != nil {
		return h, 0, err
	}
	n, err := st.PutDelegations(ctx, filepath.Base(name), h, ds)
	if err != nil {
		return h, 0, fmt.Errorf("%s: %w", name, err)
	}
	return h, n, nil
}

// ImportFiles imports files one after the other (see ImportFile), saying
// on w what each brought. A file that cannot be read, or has a bad line,
// is left out and its error added to bad, naming the file (and line); the
// next files are still imported. Only a store that fails stops it (err).
func ImportFiles(ctx context.Context, st DelegationStore, files []string, w io.Writer) (bad []error, err error) {
	for _, f := range files {
		h, n, err := ImportFile(ctx, st, f)
		var se *SyntaxError
		switch {
		case errors.As(err, &se), errors.Is(err, os.ErrNotExist), errors.Is(err, os.ErrPermission):
			bad = append(bad, fmt.Errorf("%w (nothing of it stored)", err))
			continue
		case err != nil:
			return bad, err
		}
		fmt.Fprintf(w, "%s: %d delegations of %s (serial %s), in place of the earlier ones of %s\n", f, n, h.Registry, h.Serial, h.Registry)
	}
	return bad, nil
}
