package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// splitSub takes the subcommand off args (def when the first argument is
// a flag or missing) and checks it is one of subs.
func splitSub(cmd string, args []string, def string, subs ...string) (string, []string, error) {
	sub := def
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	for _, s := range subs {
		if s == sub {
			return sub, args, nil
		}
	}
	return "", nil, fmt.Errorf("%w: %s: unknown subcommand %q (%s)", errUsage, cmd, sub, strings.Join(subs, ", "))
}

// positional takes the one positional argument that comes before the
// flags (an id, a URL).
func positional(cmd, what string, args []string) (string, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", nil, fmt.Errorf("%w: %s needs %s", errUsage, cmd, what)
	}
	return args[0], args[1:], nil
}

// progress reports a long-running command's state on stderr: one line per
// change, stamped, so that it reads in a terminal and in a CI log alike
// and never mixes with the JSON or table on stdout.
type progress struct {
	w    io.Writer
	last string
}

func (p *progress) update(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if msg == p.last {
		return
	}
	p.last = msg
	fmt.Fprintf(p.w, "%s %s\n", time.Now().Format("15:04:05"), msg)
}
