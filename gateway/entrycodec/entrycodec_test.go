package entrycodec

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
)

func sampleEntry() *gateway.Entry {
	return &gateway.Entry{
		Status: 200,
		Header: http.Header{
			"Content-Type": {"text/html"},
			"Link":         {"</a>; rel=preload", "</b>; rel=preload"},
			"X-Empty":      {},
		},
		Body:         []byte("hello\x00world"),
		Tags:         []string{"company:1", "url:/c/1"},
		RequestTime:  time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
		ResponseTime: time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		FetchGen:     1 << 40,
		Vary:         []string{"Accept-Encoding"},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name string
		e    *gateway.Entry
	}{
		{"full", sampleEntry()},
		{"zero", &gateway.Entry{}},
		{"variant record", &gateway.Entry{Vary: []string{"Accept-Language"}, FetchGen: 3}},
		{"body only", &gateway.Entry{Status: 204, Body: bytes.Repeat([]byte{0xff}, 1<<16)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := Encode(c.e)
			for _, got := range []*gateway.Entry{mustDecode(t, b), mustDecode(t, string(b))} {
				if !entriesEqual(got, c.e) {
					t.Fatalf("round trip:\n got %+v\nwant %+v", got, c.e)
				}
			}
		})
	}
}

func mustDecode[T string | []byte](t *testing.T, b T) *gateway.Entry {
	t.Helper()
	e, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func entriesEqual(a, b *gateway.Entry) bool {
	return a.Status == b.Status && bytes.Equal(a.Body, b.Body) &&
		len(a.Header) == len(b.Header) && (len(a.Header) == 0 || headersEqual(a.Header, b.Header)) &&
		reflect.DeepEqual(nilIfEmpty(a.Tags), nilIfEmpty(b.Tags)) &&
		reflect.DeepEqual(nilIfEmpty(a.Vary), nilIfEmpty(b.Vary)) &&
		a.RequestTime.Equal(b.RequestTime) && a.ResponseTime.Equal(b.ResponseTime) &&
		a.FetchGen == b.FetchGen
}

func headersEqual(a, b http.Header) bool {
	for k, vs := range a {
		if !reflect.DeepEqual(nilIfEmpty(vs), nilIfEmpty(b[k])) {
			return false
		}
	}
	return true
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestCodecRejectsCorruptInput(t *testing.T) {
	good := Encode(sampleEntry())
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"bad magic", append([]byte{'x'}, good[1:]...)},
		{"unknown version", append([]byte{'c', 9}, good[2:]...)},
		{"truncated header", good[:5]},
		{"truncated body", good[:30]},
		{"truncated meta", good[:len(good)-1]},
		{"trailing bytes", append(append([]byte{}, good...), 0)},
		{"huge body length", []byte{'c', 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"varint overflow", []byte{'c', 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
		{"status out of range", []byte{'c', 1, 0xe8, 0x07}},
		{"nanoseconds out of range", []byte{'c', 1, 0, 0, 0x80, 0x94, 0xeb, 0xdc, 0x03}},
		{"huge counts", []byte{'c', 1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0x7f, 0, 0, 0}},
		{"values without keys", []byte{'c', 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 'a'}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := Decode(c.b)
			if err == nil {
				t.Fatalf("decoded %+v from corrupt input", e)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
		})
	}
}

// FuzzDecodeEntry: any input either decodes into an entry that re-encodes
// to the same entry, or fails with ErrCorrupt; it never panics.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(Encode(sampleEntry()))
	f.Add(Encode(&gateway.Entry{}))
	f.Add(Encode(&gateway.Entry{Vary: []string{"Accept-Language"}}))
	f.Add([]byte{'c', 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		again, err := Decode(string(Encode(e)))
		if err != nil {
			t.Fatalf("re-encoding a decoded entry: %v", err)
		}
		if !entriesEqual(again, e) {
			t.Fatalf("re-encoding changed the entry:\n%+v\n%+v", e, again)
		}
	})
}

func BenchmarkCodec(b *testing.B) {
	e := sampleEntry()
	e.Body = make([]byte, 2048)
	enc := string(Encode(e))
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Encode(e)
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCodecAlternatives measures what the codec is chosen over.
func BenchmarkCodecAlternatives(b *testing.B) {
	e := sampleEntry()
	e.Body = make([]byte, 2048)
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			enc, _ := json.Marshal(e)
			var out gateway.Entry
			if err := json.Unmarshal(enc, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gob", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var buf bytes.Buffer
			if err := gob.NewEncoder(&buf).Encode(e); err != nil {
				b.Fatal(err)
			}
			var out gateway.Entry
			if err := gob.NewDecoder(&buf).Decode(&out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("codec", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(string(Encode(e))); err != nil {
				b.Fatal(err)
			}
		}
	})
}
