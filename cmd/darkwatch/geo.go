package main

import (
	"os"

	"github.com/spf13/cobra"

	"darkwatch/results/geo"
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
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			bad, err := geo.ImportFiles(cmd.Context(), st, args, os.Stderr)
			if err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			return someFilesBad(bad)
		},
	}
}
