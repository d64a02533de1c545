package config

import (
	"errors"
	"reflect"
	"strings"

	"github.com/cachegate/cachegate/gateway/redisstore"
	"github.com/cachegate/cachegate/internal/setting"
)

// This file turns the file's sections into the Configs of the packages
// they configure, and has those packages validate them: a rule about a
// setting lives in the package that uses it, once, and Load only places
// its message on the setting's line (Validate, after overrides, reports
// the same problems without lines).

// Store is the L2's config; the assembly uses it as is.
func (r Redis) Store() redisstore.Config {
	return redisstore.Config{
		URL: string(r.URL), Addrs: r.Addrs, MasterName: r.MasterName,
		Username: r.Username, Password: string(r.Password), DB: r.DB,
		TLS: r.TLS, Prefix: r.KeyPrefix,
	}
}

// problem is one package's complaint about a setting at path (the
// file's spelling: "redis.addrs[1]", or a section "nats").
type problem struct {
	path string
	err  error
}

func (p problem) String() string { return p.path + ": " + p.err.Error() }

// packageProblems validates each section with its package.
func (f *File) packageProblems() []problem {
	var out []problem
	add := func(section string, err error) {
		for _, fe := range setting.All(err) {
			path := section
			if fe.Field != "" {
				path += "." + fe.Field
			}
			out = append(out, problem{path, fe.Err})
		}
	}
	if !reflect.ValueOf(f.Redis).IsZero() {
		add("redis", f.Redis.Store().Validate())
		if !f.Redis.Enabled() {
			// Otherwise the section's settings would be accepted and
			// ignored: no url and no addrs is no L2.
			out = append(out, problem{"redis", errors.New("url or addrs is required (leave redis out for no L2)")})
		}
	}
	add("nats", f.NATS.Conn().Validate())
	return out
}

// nodeOf finds the node of path, or of the nearest enclosing setting
// that was written ("redis.addrs[1]", then "redis.addrs", then "redis").
func (d *decoder) nodeOf(path string) (line int, found bool) {
	for p := path; p != ""; {
		if n := d.at[p]; n != nil {
			return n.Line, true
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	if n := d.at["config."+path[:strings.IndexAny(path+".", ".[")]]; n != nil {
		return n.Line, true
	}
	return 1, false
}

// checkPackages places each package's problems on their settings' lines.
func (r *rootDecoder) checkPackages() {
	for _, p := range r.f.packageProblems() {
		line, _ := r.nodeOf(p.path)
		r.errs = append(r.errs, Error{File: r.file, Line: line, Msg: p.String()})
	}
}
