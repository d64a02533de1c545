package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/cachegate/cachegate/config"
)

// runCheckConfig validates a config file, printing every problem as
// FILE:LINE: message and failing when there is one.
func runCheckConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check-config", stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: check-config takes one FILE", errUsage)
	}
	path := fs.Arg(0)
	f, err := config.Load(path)
	if err != nil {
		printConfigErrors(stderr, err)
		return errConfigInvalid
	}
	for _, w := range f.Warnings {
		fmt.Fprintln(stderr, w.Error())
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
	return nil
}
