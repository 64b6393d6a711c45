package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"darkwatch/internal/cli"
	"darkwatch/results"
	"darkwatch/results/atlas"
	"darkwatch/results/recfile"
	"darkwatch/results/store"
)

func (a *app) importCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "import [--format jsonl|atlas] FILE...",
		Short:   "Load record files (sweeps from other nodes) or RIPE Atlas results into the store, idempotently",
		Long:    help("import"),
		Example: help("import.example"),
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var read recfile.Reader
			switch format {
			case "jsonl":
			case "atlas":
				opts := atlas.Options{Round: a.cfg.Round}
				read = func(name string) ([]results.Record, error) { return atlas.ReadFile(name, opts) }
			default:
				return cli.Usagef("--format %q: use jsonl or atlas", format)
			}
			return a.withStore(func(cmd *cobra.Command, args []string, st *store.Store) error {
				if refused := recfile.ImportFiles(cmd.Context(), st, args, read, os.Stderr); refused > 0 {
					return cli.Exit(cli.Some, fmt.Errorf("%d of %d files refused, the others imported", refused, len(args)))
				}
				return nil
			})(cmd, args)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "jsonl", "what the files hold: jsonl (darkwatch records) or atlas (RIPE Atlas results)")
	return cmd
}

// expire deletes what st holds from before the configured retention, now and
// every hour, until the returned stop is called (store.Expire).
func (a *app) expire(ctx context.Context, st *store.Store) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := store.Expire(ctx, st, a.cfg.Retention, time.Hour, a.log)
	return func() { cancel(); <-done }
}

// withStore is a command's RunE that opens the store for run and closes it
// after.
func (a *app) withStore(run func(cmd *cobra.Command, args []string, st *store.Store) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		st, err := a.openStore(cmd)
		if err != nil {
			return err
		}
		defer st.Close()
		return run(cmd, args, st)
	}
}

// filesDone is the end of a command over files: a failure of the command,
// else status 1 with the errors of the files that were bad, else nil.
func filesDone(bad []error, err error) error {
	if err != nil {
		return cli.Failed(err)
	}
	if len(bad) == 0 {
		return nil
	}
	return cli.Exit(cli.Some, errors.Join(bad...))
}

// openStore opens the store of --store (or the config's store, or the default
// local SQLite file).
func (a *app) openStore(cmd *cobra.Command) (*store.Store, error) {
	dsn, err := a.cfg.StoreDSN()
	if err != nil {
		return nil, err
	}
	st, err := store.Open(cmd.Context(), dsn)
	if err != nil {
		return nil, cli.Exit(cli.Failure, err)
	}
	return st, nil
}
