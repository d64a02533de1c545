package main

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"github.com/cachegate/cachegate/internal/node"
	"github.com/cachegate/cachegate/web"
)

// runVersion prints this binary's build and, with --server, the admin
// API's instance's:
//
//	cachegate version [--server]
func runVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", stderr)
	client := adminFlags(fs)
	output := outputFlag(fs)
	server := fs.Bool("server", false, "also ask the instance behind the admin API")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := output.check(); err != nil {
		return err
	}
	out := struct {
		Client web.VersionInfo  `json:"client"`
		Server *web.VersionInfo `json:"server,omitempty"`
	}{Client: web.VersionInfo{Version: node.Version(), Revision: node.Revision(), Go: runtime.Version()}}
	if *server {
		c, err := client()
		if err != nil {
			return err
		}
		out.Server = &web.VersionInfo{}
		if _, err := c.get(ctx, "/api/v1/version", out.Server); err != nil {
			return err
		}
	}
	return output.print(stdout, out, func(w io.Writer) {
		line := func(who string, v web.VersionInfo) {
			fmt.Fprintf(w, "%s: cachegate %s", who, v.Version)
			if v.Revision != "" {
				fmt.Fprintf(w, " (%s)", v.Revision)
			}
			fmt.Fprintf(w, " %s\n", v.Go)
		}
		line("client", out.Client)
		if out.Server != nil {
			line("server", *out.Server)
		}
	})
}
