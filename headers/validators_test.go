package headers

import (
	"errors"
	"testing"
)

func TestParseETag(t *testing.T) {
	tests := []struct {
		in   string
		want ETag
		bad  bool
	}{
		{`"abc"`, ETag{Opaque: "abc"}, false},
		{`W/"abc"`, ETag{Weak: true, Opaque: "abc"}, false},
		{` "" `, ETag{Opaque: ""}, false},
		{`abc`, ETag{}, true},
		{`"abc`, ETag{}, true},
		{`"a b"`, ETag{}, true},
		{`"a" x`, ETag{}, true},
		{`w/"a"`, ETag{}, true},
	}
	for _, tt := range tests {
		got, err := ParseETag(tt.in)
		if tt.bad {
			if !errors.Is(err, ErrBadETag) {
				t.Errorf("%q: error %v, want ErrBadETag", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %+v, %v", tt.in, got, err)
		}
		if again, _ := ParseETag(got.String()); again != got {
			t.Errorf("%q: round trip %+v", tt.in, again)
		}
	}
}

func TestCompare(t *testing.T) {
	s1, w1, s2 := ETag{Opaque: "1"}, ETag{Weak: true, Opaque: "1"}, ETag{Opaque: "2"}
	cases := []struct {
		a, b         ETag
		strong, weak bool
	}{
		{w1, w1, false, true}, {w1, s1, false, true}, {s1, s1, true, true}, {s1, s2, false, false},
	}
	for _, c := range cases {
		if StrongMatch(c.a, c.b) != c.strong || WeakMatch(c.a, c.b) != c.weak {
			t.Errorf("%v vs %v", c.a, c.b)
		}
	}
}

func TestBodyETag(t *testing.T) {
	a, b := BodyETag([]byte("hello")), BodyETag([]byte("hellp"))
	if a == b {
		t.Fatal("different bodies, same tag")
	}
	tag, err := ParseETag(a)
	if err != nil || tag.Weak {
		t.Fatalf("%q: %+v %v", a, tag, err)
	}
	if a != BodyETag([]byte("hello")) {
		t.Fatal("not deterministic")
	}
}

func FuzzParseETag(f *testing.F) {
	for _, s := range []string{`"a"`, `W/"a"`, `W/`, `"`, `""`, "\"\x00\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tag, err := ParseETag(s)
		if err != nil {
			return
		}
		if again, err := ParseETag(tag.String()); err != nil || again != tag {
			t.Fatalf("%q: round trip gave %+v, %v", s, again, err)
		}
	})
}
