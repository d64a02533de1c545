// Package setting names the setting a configuration problem is about, so
// that a rule lives once, in the package whose Config it constrains, and
// the config file loader can still place its message on the file's line.
//
// A package's Config.Validate returns Errors (one *Error per problem,
// joined); each names its field as the config file spells it, relative to
// the package's section ("url", "addrs[1]"). The loader adds the section
// ("redis.") and looks the path up among the nodes it decoded. Problems
// that concern no single field use Field "".
package setting

import (
	"errors"
	"fmt"
)

// Error is one problem of one field.
type Error struct {
	// Field is the setting's name in the config file, relative to its
	// section: "url", "addrs[1]", "zones.acme"; "" for the whole section.
	Field string
	Err   error
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Err.Error()
	}
	return e.Field + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error for field with a formatted message.
func Errorf(field, format string, a ...any) error {
	return &Error{Field: field, Err: fmt.Errorf(format, a...)}
}

// Index names item i of list field: "addrs[1]".
func Index(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }

// All returns every *Error in err's tree (errors.Join, %w), in order;
// a problem that is not one is returned as an *Error with Field "".
func All(err error) []*Error {
	if err == nil {
		return nil
	}
	var fe *Error
	if errors.As(err, &fe) && fe == err {
		return []*Error{fe}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*Error
		for _, e := range j.Unwrap() {
			out = append(out, All(e)...)
		}
		return out
	}
	if u := errors.Unwrap(err); u != nil {
		// A wrapper's own words ("redisstore config: ") are the section's
		// name, which the loader says its own way.
		inner := All(u)
		for _, e := range inner {
			if e.Field != "" {
				return inner
			}
		}
	}
	return []*Error{{Err: err}}
}
