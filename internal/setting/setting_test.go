package setting

import (
	"errors"
	"fmt"
	"testing"
)

func TestAll(t *testing.T) {
	a, b := Errorf("url", "bad"), Errorf(Index("addrs", 1), "not host:port")
	plain := errors.New("plain")
	tests := []struct {
		name string
		err  error
		want string // fields and messages
	}{
		{"nil", nil, "[]"},
		{"one", a, `["url" bad]`},
		{"joined and wrapped", fmt.Errorf("redisstore config: %w", errors.Join(a, b)), `["url" bad "addrs[1]" not host:port]`},
		{"plain", plain, `["" plain]`},
		{"wrapped plain keeps its words", fmt.Errorf("x: %w", plain), `["" x: plain]`},
		{"mixed", errors.Join(a, plain), `["url" bad "" plain]`},
	}
	for _, tt := range tests {
		var got []string
		for _, e := range All(tt.err) {
			got = append(got, fmt.Sprintf("%q %v", e.Field, e.Err))
		}
		if s := fmt.Sprintf("%v", got); s != tt.want && !(s == "[]" && tt.want == "[]") {
			t.Errorf("%s: got %s, want %s", tt.name, s, tt.want)
		}
	}
}
