package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"darkwatch/results/recfile"
	"darkwatch/results/store"
)

func (a *app) importCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "import FILE...",
		Short:   "Load JSON record files (sweeps from other nodes) into the store, idempotently",
		Long:    help("import"),
		Example: help("import.example"),
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			refused := recfile.ImportFiles(cmd.Context(), st, args, os.Stderr)
			if refused > 0 {
				return &exitError{code: exitSome, err: fmt.Errorf("%d of %d files refused, the others imported", refused, len(args))}
			}
			return nil
		},
	}
}

// openStore opens the store of --store (or the config's store, or the default
// local SQLite file).
// expire deletes what st holds from before the configured retention, now and
// every hour, until the returned stop is called (store.Expire).
func (a *app) expire(ctx context.Context, st store.Store) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := store.Expire(ctx, st, a.cfg.Retention, time.Hour, a.log)
	return func() { cancel(); <-done }
}

func (a *app) openStore(cmd *cobra.Command) (store.Store, error) {
	dsn, err := a.cfg.StoreDSN()
	if err != nil {
		return nil, err
	}
	st, err := store.Open(cmd.Context(), dsn)
	if err != nil {
		return nil, &exitError{code: exitFailure, err: err}
	}
	return st, nil
}
