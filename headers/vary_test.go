package headers

import (
	"net/http"
	"reflect"
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
	if got := NormalizeVaryValue("Accept-Language", h, nil); got != "de-CH" {
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
