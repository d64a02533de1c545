package uri

import (
	"errors"
	"strings"
	"testing"
)

func TestHost(t *testing.T) {
	tests := []struct {
		raw, want string
		bad       bool
	}{
		{raw: "", want: ""},
		{raw: "t9.example", want: "t9.example"},
		{raw: "T9.Example", want: "t9.example"},
		{raw: "t9.example:8080", want: "t9.example"},
		{raw: "t9.example:", want: "t9.example"},
		{raw: "t9.example.", want: "t9.example"},
		{raw: "T9.example.:443", want: "t9.example"},
		{raw: "under_score.example", want: "under_score.example"},
		{raw: "127.0.0.1:80", want: "127.0.0.1"},
		{raw: "[::1]:8080", want: "[::1]"},
		{raw: "[0:0::0:1]", want: "[::1]"},
		{raw: "[2001:DB8::1]", want: "[2001:db8::1]"},
		{raw: "t9.example:evil.com", bad: true},
		{raw: "t9.example:80:81", bad: true},
		{raw: "t9.example:123456", bad: true},
		{raw: "user@t9.example", bad: true},
		{raw: "t9.example/x", bad: true},
		{raw: "t9 example", bad: true},
		{raw: "t9%2eexample", bad: true},
		{raw: "t9..example", bad: true},
		{raw: ".t9.example", bad: true},
		{raw: "t9.example..", bad: true},
		{raw: ":80", bad: true},
		{raw: "[::1", bad: true},
		{raw: "[::1]x", bad: true},
		{raw: "[127.0.0.1]", bad: true},
		{raw: "[fe80::1%25eth0]", bad: true},
		{raw: "[v1.x]", bad: true},
	}
	for _, tc := range tests {
		got, err := Host(tc.raw)
		if tc.bad {
			if !errors.Is(err, ErrBadHost) {
				t.Errorf("Host(%q) = %q, %v; want ErrBadHost", tc.raw, got, err)
			}
			if HostOrRaw(tc.raw) != tc.raw {
				t.Errorf("HostOrRaw(%q) changed a malformed host", tc.raw)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Host(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
		}
		if again, _ := Host(got); again != got {
			t.Errorf("Host is not idempotent on %q: %q", got, again)
		}
	}
}

func TestTarget(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/", "/"},
		{"/caf%c3%a9", "/caf%C3%A9"},
		{"/caf%C3%A9", "/caf%C3%A9"},
		{"/%7Euser/%41b%2d%2E%5f", "/~user/Ab-._"},
		{"/a%2fb", "/a%2Fb"},
		{"/a%2Fb", "/a%2Fb"},
		{"/a?q=%c3%a9&r=%61", "/a?q=%C3%A9&r=a"},
		{"/a?q=a+b&x=%2b", "/a?q=a+b&x=%2B"},
		{"/bad%zz%4", "/bad%zz%4"},
		{"/bad%zz%4a", "/bad%zz%4a"},
		{"/%7%41", "/%7%41"},
		{"/trailing%", "/trailing%"},
		{"/%25%32%35", "/%2525"},
		{"/a/../b", "/a/../b"},
	}
	for _, tc := range tests {
		if got := Target(tc.in); got != tc.want {
			t.Errorf("Target(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if again := Target(tc.want); again != tc.want {
			t.Errorf("Target is not idempotent on %q: %q", tc.want, again)
		}
	}
}

func TestCanonicalFormsDoNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() {
		Host("acme.example")
		Target("/companies/acme?page=1")
		Target("/caf%C3%A9")
	}); n != 0 {
		t.Fatalf("%v allocations for canonical input", n)
	}
}

func FuzzTarget(f *testing.F) {
	for _, s := range []string{"/caf%c3%a9", "/%7e?%41=%zz", "/%", "/%2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := Target(s)
		if Target(c) != c {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, c, Target(c))
		}
	})
}

func FuzzHost(f *testing.F) {
	for _, s := range []string{"a.example:80", "[::1]:1", "A.B.", "a:b", "[v1.x]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := Host(s)
		if err != nil {
			return
		}
		if again, err := Host(h); err != nil || again != h {
			t.Fatalf("%q -> %q -> %q, %v", s, h, again, err)
		}
		if h != "" && h[0] != '[' && strings.ContainsAny(h, ":@/ %") {
			t.Fatalf("%q -> %q keeps a character a host cannot have", s, h)
		}
	})
}

// BenchmarkCanonicalRequest is what every request pays: a canonical host
// and target, checked.
func BenchmarkCanonicalRequest(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Host("acme.localhost")
		Target("/companies/acme?page=1")
	}
}
