// Package cli holds what darkwatch's command line shares about ending a
// command: the exit statuses DESIGN.md states, the error that carries one,
// and cobra's complaints about the command line made usage errors, so that
// the status is chosen by the type of the error, never by its text. It knows
// cobra and nothing of darkwatch's packages.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit statuses, as DESIGN.md's command line states them.
const (
	OK      = 0 // every target answered
	Some    = 1 // some target did not answer
	Usage   = 2 // usage or configuration error
	Failure = 3 // the prober itself failed (no permission, socket error)
)

// ExitError carries an exit status out of a command; Err nil says nothing
// more than the status.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Exit is an ExitError of code and err.
func Exit(code int, err error) error { return &ExitError{Code: code, Err: err} }

// Failed is err as a failure of the command itself (status 3), nil for nil.
func Failed(err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: Failure, Err: err}
}

// Usagef is a usage error (status 2) with a formatted message.
func Usagef(format string, a ...any) error {
	return &ExitError{Code: Usage, Err: fmt.Errorf(format, a...)}
}

// UsageError is cobra's complaint about the command line: an unknown
// command, the wrong number of arguments, a required flag left out.
type UsageError struct{ Err error }

// Error is cobra's message.
func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap gives cobra's error.
func (e *UsageError) Unwrap() error { return e.Err }

// FindCommand says, as a UsageError, when args name no command of root.
func FindCommand(root *cobra.Command, args []string) error {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd(args...)
	if _, _, err := root.Find(args); err != nil {
		return &UsageError{err}
	}
	return nil
}

// UsageArgs makes the argument checks of cmd and its subcommands return a
// UsageError.
func UsageArgs(cmd *cobra.Command) {
	if check := cmd.Args; check != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			if err := check(c, args); err != nil {
				return &UsageError{err}
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		UsageArgs(sub)
	}
}

// Run executes root with args under ctx and returns the exit status: OK, or
// what status gives for the error. The error goes to stderr (but for an
// ExitError that carries none), followed by a pointer to --help when it is a
// UsageError.
func Run(ctx context.Context, root *cobra.Command, args []string, stderr io.Writer, status func(error) int) int {
	root.SetArgs(args)
	err := FindCommand(root, args)
	if err == nil {
		err = root.ExecuteContext(ctx)
	}
	if err == nil {
		return OK
	}
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Err != nil {
		fmt.Fprintln(stderr, root.Name()+":", err)
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", root.Name())
	}
	return status(err)
}
