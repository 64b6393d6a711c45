// Command darkwatch probes whether pieces of the Internet are reachable in the
// data plane, from several vantage points, and sets that beside what BGP says.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"darkwatch/config"
	"darkwatch/internal/cli"
	"darkwatch/schedule"
)

// app is the state shared by all subcommands: the flags' viper and the loaded
// configuration.
type app struct {
	v   *viper.Viper
	cfg *config.Config
	// bl is the blocklist of cfg, built once for probe and sweep.
	bl     *schedule.Blocklist
	json   bool
	stdout *os.File
	log    *slog.Logger
	// flagSet and flagAllow are what the command line set, kept so that a
	// reloaded configuration keeps them.
	flagSet   map[string]string
	flagAllow []string
	// resolver resolves named target sets for the analyses of run and
	// serve, which come round after round.
	resolver schedule.Resolver
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes darkwatch with args and returns its exit status, chosen by
// the type of the error (see exitStatus).
func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{v: config.NewViper(), stdout: os.Stdout}
	return cli.Run(ctx, a.rootCommand(), args, os.Stderr, exitStatus)
}

// exitStatus is the exit status err calls for: a cli.ExitError's own, 2 for a
// bad command line or configuration, 1 for work cut short, else 3.
func exitStatus(err error) int {
	var ee *cli.ExitError
	var ce *config.Error
	var ue *cli.UsageError
	switch {
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ce), errors.As(err, &ue):
		return cli.Usage
	case errors.Is(err, schedule.ErrInterrupted):
		return cli.Some
	}
	return cli.Failure
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "darkwatch",
		Short:         "Data-plane reachability from several vantage points, beside what BGP says",
		Long:          help("darkwatch"),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			// cobra checks these after this hook; here their errors are usage errors.
			if err := cmd.ValidateRequiredFlags(); err != nil {
				return &cli.UsageError{Err: err}
			}
			if err := cmd.ValidateFlagGroups(); err != nil {
				return &cli.UsageError{Err: err}
			}
			return a.load(cmd)
		},
	}
	pf := root.PersistentFlags()
	pf.String("config", "", "YAML configuration `file` (see configs/darkwatch.example.yaml)")
	pf.String("vantage", "", "name of this vantage point (default: the hostname)")
	pf.String("store", "", "result store `DSN`: sqlite:///path/file.db or postgres://user@host/db")
	pf.StringArray("allow", nil, "exempt `CIDR` from the default blocklist (repeatable)")
	pf.BoolVar(&a.json, "json", false, "print JSON Lines records on stdout instead of a table")
	pf.String("log-level", "", "log level: debug, info, warn, error (default info)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return cli.Exit(cli.Usage, fmt.Errorf("%v\nRun '%s --help' for usage", err, c.CommandPath()))
	})
	root.AddCommand(a.probeCommand(), a.sweepCommand(), a.runCommand(), a.importCommand(), a.exportCommand(), a.censusCommand(), a.verdictCommand(), a.reportCommand(), a.bgpCommand(), a.geoCommand(), a.targetsCommand(), a.serveCommand(), versionCommand())
	cli.UsageArgs(root)
	return root
}

// load reads the configuration: file, then DARKWATCH_* environment, then flags.
func (a *app) load(cmd *cobra.Command) error {
	v := a.v
	bind := map[string]string{"vantage": "vantage", "store": "store", "log-level": "log_level"}
	var bindErr error
	a.flagSet = map[string]string{}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if key, ok := bind[f.Name]; ok && f.Changed {
			a.flagSet[key] = f.Value.String()
			if err := v.BindPFlag(key, f); err != nil {
				bindErr = err
			}
		}
	})
	if bindErr != nil {
		return bindErr
	}
	cfg, err := config.Load(v, configFile(cmd))
	if err != nil {
		return err
	}
	for _, w := range config.UnknownEnv(os.Environ()) {
		fmt.Fprintf(os.Stderr, "darkwatch: warning: %s\n", w)
	}
	if allow, _ := cmd.Flags().GetStringArray("allow"); len(allow) > 0 {
		a.flagAllow = allow
		if err := cfg.AddAllow(allow); err != nil {
			var ce *config.Error
			if errors.As(err, &ce) && strings.HasPrefix(ce.Key, "allow") {
				return cli.Usagef("--allow: %s", ce.Msg)
			}
			return err
		}
	}
	if a.bl, err = cfg.BlocklistSet(); err != nil {
		return err
	}
	a.cfg = cfg
	a.log = cfg.Logger(os.Stderr)
	return nil
}
