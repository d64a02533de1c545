package requestid

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for _, tt := range []struct {
		id string
		ok bool
	}{
		{"client-id-1", true},
		{"0af7651916cd43dd8448eb211c80319c", true},
		{"00-0af7651916cd43dd-b7ad6b7169203331-01:x_y.z", true},
		{strings.Repeat("a", MaxLen), true},
		{"", false},
		{strings.Repeat("a", MaxLen+1), false},
		{"has space", false},
		{"new\nline", false},
		{"quote\"", false},
		{"ünïcode", false},
	} {
		if got := Valid(tt.id); got != tt.ok {
			t.Errorf("Valid(%q) = %v, want %v", tt.id, got, tt.ok)
		}
	}
	if a, b := New(), New(); a == b || !Valid(a) || len(a) != 32 {
		t.Errorf("generated ids %q and %q: want two different valid 32-character ids", a, b)
	}
	if got := FromClient("bad id"); !Valid(got) || got == "bad id" {
		t.Errorf("FromClient(invalid) = %q, want a new id", got)
	}
	if got := FromClient("ok-1"); got != "ok-1" {
		t.Errorf("FromClient(valid) = %q", got)
	}
}
