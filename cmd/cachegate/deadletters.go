package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/web"
)

// runDeadLetters lists the events the coordinator set aside, and retries,
// corrects or drops one:
//
//	cachegate deadletters [list] [--limit N]
//	cachegate deadletters retry <seq>
//	cachegate deadletters edit <seq> --body JSON | --file FILE (- for stdin)
//	cachegate deadletters discard <seq>
func runDeadLetters(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub, args, err := splitSub("deadletters", args, "list", deadLetterSubs...)
	if err != nil {
		return err
	}
	fs := newFlagSet("deadletters "+sub, stderr)
	client := adminFlags(fs)
	output := outputFlag(fs)
	var limit int
	var body, file *string
	switch sub {
	case "list":
		fs.IntVar(&limit, "limit", 100, fmt.Sprintf("at most this many, newest first (1 to %d)", audit.MaxRecent))
	case "edit":
		body = fs.String("body", "", "the corrected event, as JSON")
		file = fs.String("file", "", "read the corrected event from this file (- for standard input)")
	}
	var seq uint64
	if sub != "list" {
		var s string
		if s, args, err = positional("deadletters "+sub, "a dead letter's seq (see cachegate deadletters list)", args); err != nil {
			return err
		}
		if seq, err = strconv.ParseUint(s, 10, 64); err != nil || seq == 0 {
			return fmt.Errorf("%w: %q is not a dead letter's seq (a positive number)", errUsage, s)
		}
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var event []byte
	if sub == "edit" {
		if event, err = editedEvent(*body, *file); err != nil {
			return err
		}
	}
	if sub == "list" && (limit < 1 || limit > audit.MaxRecent) {
		return fmt.Errorf("%w: --limit: 1 to %d", errUsage, audit.MaxRecent)
	}
	c, err := connect(output, client)
	if err != nil {
		return err
	}
	path := fmt.Sprintf("/api/v1/deadletters/%d/%s", seq, sub)
	var out map[string]any
	switch sub {
	case "retry", "discard":
		if _, err := c.post(ctx, path, struct{}{}, &out); err != nil {
			return err
		}
		return output.print(stdout, out, func(w io.Writer) {
			if sub == "retry" {
				fmt.Fprintf(w, "dead letter %d published again\n", seq)
			} else {
				fmt.Fprintf(w, "dead letter %d discarded\n", seq)
			}
		})
	case "edit":
		if _, err := c.post(ctx, path, json.RawMessage(event), &out); err != nil {
			return err
		}
		return output.print(stdout, out, func(w io.Writer) {
			fmt.Fprintf(w, "dead letter %d replaced by event %v\n", seq, out["id"])
		})
	}
	var list web.DeadLettersResponse
	if _, err := c.get(ctx, fmt.Sprintf("/api/v1/deadletters?limit=%d", limit), &list); err != nil {
		return err
	}
	return output.print(stdout, list, func(w io.Writer) {
		if len(list.DeadLetters) == 0 {
			fmt.Fprintln(w, "no dead letters")
			return
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tWHEN\tSUBJECT\tREASON\tBODY")
		for _, d := range list.DeadLetters {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", d.Seq, d.Time.Format(time.RFC3339), d.Subject, d.Reason, truncateLine(d.Body, 80))
		}
		_ = tw.Flush()
	})
}

// editedEvent reads the corrected event from --body or --file, and checks
// it is a JSON object before anything is sent.
func editedEvent(body, file string) ([]byte, error) {
	var b []byte
	switch {
	case body != "" && file != "":
		return nil, fmt.Errorf("%w: give --body or --file, not both", errUsage)
	case body != "":
		b = []byte(body)
	case file == "-":
		var err error
		if b, err = io.ReadAll(io.LimitReader(os.Stdin, web.DefaultMaxBodyBytes+1)); err != nil {
			return nil, err
		}
	case file != "":
		var err error
		if b, err = os.ReadFile(file); err != nil {
			return nil, fmt.Errorf("%w: --file: %v", errUsage, err)
		}
	default:
		return nil, fmt.Errorf("%w: edit needs the corrected event: --body JSON or --file FILE", errUsage)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, fmt.Errorf("%w: the corrected event is not a JSON object: %v", errUsage, err)
	}
	return b, nil
}

// truncateLine shortens s to n characters on one line, for tables.
func truncateLine(s string, n int) string {
	r := []rune(s)
	for i, c := range r {
		if c == '\n' || c == '\t' {
			r[i] = ' '
		}
	}
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return string(r)
}
