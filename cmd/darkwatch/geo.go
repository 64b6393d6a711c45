package main

import (
	"os"

	"github.com/spf13/cobra"

	"darkwatch/results/geo"
	"darkwatch/results/store"
)

func (a *app) geoCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "geo",
		Short: "Where address space is registered: load RIR statistics files into the store",
		Long:  help("geo"),
	}
	cmd.AddCommand(a.geoImportCommand())
	return cmd
}

func (a *app) geoImportCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "import FILE...",
		Short:   "Load RIR delegated(-extended) statistics files into the store",
		Long:    help("geo-import"),
		Example: help("geo-import.example"),
		Args:    cobra.MinimumNArgs(1),
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st *store.Store) error {
			return filesDone(geo.ImportFiles(cmd.Context(), st, args, os.Stderr))
		}),
	}
}
