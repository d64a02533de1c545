package headers

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestParseVary(t *testing.T) {
	h := http.Header{"Vary": {"accept-encoding, Accept-Language", "Accept-Encoding"}}
	names, star := ParseVary(h)
	if !reflect.DeepEqual(names, []string{"Accept-Encoding", "Accept-Language"}) || star {
		t.Fatalf("got %v %v", names, star)
	}
	if _, star := ParseVary(http.Header{"Vary": {"Cookie, *"}}); !star {
		t.Fatal("star not reported")
	}
}

func TestNormalizeAcceptEncoding(t *testing.T) {
	tests := map[string]string{
		"":                              EncodingIdentity,
		"identity":                      EncodingIdentity,
		"gzip":                          EncodingGzip,
		"gzip, deflate":                 EncodingGzip,
		"gzip, deflate, br, zstd":       EncodingBrGzip,
		"br;q=1.0, gzip;q=0.8, *;q=0.1": EncodingBrGzip,
		"br":                            EncodingBr,
		"gzip;q=0, br":                  EncodingBr,
		"*":                             EncodingBrGzip,
		"*, br;q=0":                     EncodingGzip,
		"GZIP":                          EncodingGzip,
		"x-gzip":                        EncodingGzip,
		"gzip;q=bogus":                  EncodingIdentity,
	}
	for in, want := range tests {
		if got := NormalizeAcceptEncoding(in); got != want {
			t.Errorf("%q: got %q want %q", in, got, want)
		}
	}
}

func TestNegotiateLocale(t *testing.T) {
	locales := []string{"en", "de"}
	tests := []struct {
		in, want string
		locales  []string
	}{
		{"", "en", locales},
		{"de", "de", locales},
		{"de-DE,de;q=0.9,en;q=0.8", "de", locales},
		{"fr-FR, de;q=0.5", "de", locales},
		{"fr", "en", locales},
		{"en;q=0.2, de;q=0.9", "de", locales},
		{"de;q=0", "en", locales},
		{"*", "en", locales},
		{"de", "de-DE", []string{"en-US", "de-DE"}},
		{"anything", "", nil},
	}
	for _, tt := range tests {
		if got := NegotiateLocale(tt.in, tt.locales); got != tt.want {
			t.Errorf("%q over %v: got %q want %q", tt.in, tt.locales, got, tt.want)
		}
	}
}

func TestNormalizeVaryValue(t *testing.T) {
	h := http.Header{"Accept-Language": {"de-CH"}, "Accept-Encoding": {"gzip, br"}, "X-Thing": {" a ", "b"}}
	if got := NormalizeVaryValue("Accept-Language", h, []string{"en", "de"}); got != "de" {
		t.Errorf("language: %q", got)
	}
	if got := NormalizeVaryValue("Accept-Language", h, nil); got != "de-ch" {
		t.Errorf("language without locales: %q", got)
	}
	if got := NormalizeVaryValue("Accept-Encoding", h, nil); got != EncodingBrGzip {
		t.Errorf("encoding: %q", got)
	}
	if got := NormalizeVaryValue("X-Thing", h, nil); got != "a,b" {
		t.Errorf("other: %q", got)
	}
}

func FuzzNegotiate(f *testing.F) {
	f.Add("de-DE,de;q=0.9,en;q=0.8", "gzip, deflate, br;q=0.5")
	f.Add(";;;q=", "*;q=0")
	f.Fuzz(func(t *testing.T, lang, enc string) {
		locales := []string{"en", "de"}
		got := NegotiateLocale(lang, locales)
		if got != "en" && got != "de" {
			t.Fatalf("locale %q not one of the configured", got)
		}
		switch NormalizeAcceptEncoding(enc) {
		case EncodingIdentity, EncodingGzip, EncodingBr, EncodingBrGzip:
		default:
			t.Fatalf("encoding bucket out of set for %q", enc)
		}
	})
}

// Equivalent request values select one variant: case, order of members of
// different weight, whitespace, field lines and the spelling of q do not
// matter; what changes the answer does.
func TestNormalizeWeightedVaryValues(t *testing.T) {
	tests := []struct {
		name   string
		header string
		values []string // each as field lines separated by "|"
		want   string
	}{
		{"language case and space", "Accept-Language", []string{"de-DE, en;q=0.8", "DE-de,EN;Q=0.8", " de-de ,  en ; q=0.8 "}, "de-de,en;q=0.8"},
		{"language order by weight", "Accept-Language", []string{"en;q=0.8,de-DE", "de-DE;q=1.000, en;q=0.800"}, "de-de,en;q=0.8"},
		{"language lines", "Accept-Language", []string{"de|en;q=0.5", "de, en;q=0.5"}, "de,en;q=0.5"},
		{"language q forms", "Accept-Language", []string{"fr;q=0.50", "fr;q=0.5;x=1", "fr;q=0.5"}, "fr;q=0.5"},
		{"language q=0 without wildcard", "Accept-Language", []string{"en, fr;q=0", "en"}, "en"},
		{"language q=0 restricting a wildcard", "Accept-Language", []string{"*;q=0.5, fr;q=0, en", "en,*;q=0.5,fr;q=0"}, "en,*;q=0.5,fr;q=0"},
		{"language duplicates", "Accept-Language", []string{"en, en;q=0.3, de;q=0.9", "en,de;q=0.9"}, "en,de;q=0.9"},
		{"language malformed q", "Accept-Language", []string{"en;q=2, de", "de, en;q=x", "de"}, "de"},
		{"language equal weights keep their order", "Accept-Language", []string{"en, de"}, "en,de"},
		{"language long list", "Accept-Language", []string{strings.Repeat("a,b;q=0.5,", 12) + "c;q=0.1", "a , b;q=0.50, c;q=0.1"}, "a,b;q=0.5,c;q=0.1"},
		{"language empty", "Accept-Language", []string{"", " , ,", "|"}, ""},
		{"charset", "Accept-Charset", []string{"UTF-8, iso-8859-1;q=0.5", "iso-8859-1;q=0.50 , utf-8"}, "utf-8,iso-8859-1;q=0.5"},
		{"accept keeps parameters", "Accept", []string{"Text/HTML;Level=1, application/json;q=0.9", "application/json;q=0.9,text/html ; level=1"}, "text/html;level=1,application/json;q=0.9"},
		{"accept wildcard", "Accept", []string{"*/*;q=0.1, text/html, image/png;q=0", "text/html,image/png;q=0,*/*;q=0.1"}, "text/html,*/*;q=0.1,image/png;q=0"},
	}
	for _, tt := range tests {
		for _, v := range tt.values {
			h := http.Header{}
			for _, line := range strings.Split(v, "|") {
				h.Add(tt.header, line)
			}
			if got := NormalizeVaryValue(tt.header, h, nil); got != tt.want {
				t.Errorf("%s: %s %q -> %q, want %q", tt.name, tt.header, v, got, tt.want)
			}
		}
	}
	// Different preferences stay different variants.
	for _, pair := range [][2]string{{"en, de", "de, en"}, {"en;q=0.5", "en;q=0.6"}, {"de", "de-ch"}} {
		a := NormalizeVaryValue("Accept-Language", http.Header{"Accept-Language": {pair[0]}}, nil)
		b := NormalizeVaryValue("Accept-Language", http.Header{"Accept-Language": {pair[1]}}, nil)
		if a == b {
			t.Errorf("%q and %q share the variant %q", pair[0], pair[1], a)
		}
	}
}

func FuzzNormalizeVaryValue(f *testing.F) {
	f.Add("de-DE,de;q=0.9,en;q=0.8")
	f.Add("*;q=0.5, fr;q=0, EN")
	f.Add("text/html;level=1;q=0.4, */*;q=0.1")
	f.Add(";;;q=,q=1.,=x;a=b=c")
	f.Fuzz(func(t *testing.T, v string) {
		for _, name := range []string{"Accept-Language", "Accept-Charset", "Accept"} {
			norm := func(lines ...string) string {
				return NormalizeVaryValue(name, http.Header{name: lines}, nil)
			}
			got := norm(v)
			if again := norm(got); again != got {
				t.Fatalf("%s: not idempotent: %q -> %q -> %q", name, v, got, again)
			}
			if strings.ContainsAny(got, " \t") && !strings.ContainsAny(strings.TrimSpace(v), " \t") {
				t.Fatalf("%s: %q -> %q gained whitespace", name, v, got)
			}
			spaced := strings.NewReplacer(",", " , ", ";", " ; ").Replace(v)
			if s := norm(spaced); s != got {
				t.Fatalf("%s: whitespace matters: %q -> %q, %q -> %q", name, v, got, spaced, s)
			}
			if before, after, ok := strings.Cut(v, ","); ok {
				if s := norm(before, after); s != got {
					t.Fatalf("%s: field lines matter: %q -> %q, lines -> %q", name, v, got, s)
				}
			}
			if name != "Accept" && isASCII(v) {
				if s := norm(strings.ToUpper(v)); s != got {
					t.Fatalf("%s: case matters: %q -> %q, upper -> %q", name, v, got, s)
				}
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
