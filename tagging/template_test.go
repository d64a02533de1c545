package tagging

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestExpandEach(t *testing.T) {
	vals := map[string][]string{"id": {"a%b"}, "many": {"x", "y z"}, "two": {"1", "2"}}
	lookup := func(n string) ([]string, error) {
		v, ok := vals[n]
		if !ok {
			return nil, errors.New("no " + n)
		}
		return v, nil
	}
	for _, c := range []struct {
		tpl   string
		limit int
		want  []string
		err   string
	}{
		{"literal", 10, []string{"literal"}, ""},
		{"product:{id}", 10, []string{"product:a%25b"}, ""},
		{"{many}-{two}", 10, []string{"x-1", "x-2", "y%20z-1", "y%20z-2"}, ""},
		{"{many}-{two}", 3, nil, "too many tags"},
		{"{nope}", 10, nil, "no nope"},
	} {
		tp, err := ParseTemplate(c.tpl, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tp.ExpandEach(lookup, c.limit)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.tpl, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, %v; want %q", c.tpl, got, err, c.want)
		}
		// One value each, Expand agrees.
		if len(c.want) == 1 {
			one, ok := tp.Expand(func(n string) (string, bool) { v := vals[n]; return v[0], len(v) > 0 })
			if !ok || one != c.want[0] {
				t.Errorf("%s: Expand %q %v", c.tpl, one, ok)
			}
		}
	}
}
