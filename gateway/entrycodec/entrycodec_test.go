package entrycodec

import (
	"bytes"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
)

func sampleEntry() *gateway.Entry {
	e := &gateway.Entry{
		Status:       200,
		Body:         []byte("hello\x00world"),
		Tags:         []string{"company:1", "url:/c/1"},
		RequestTime:  time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
		ResponseTime: time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		FetchGen:     1 << 40,
		Vary:         []string{"Accept-Encoding"},
	}
	e.SetHeader(http.Header{
		"Content-Type": {"text/html"},
		"Link":         {"</a>; rel=preload", "</b>; rel=preload"},
		"X-Empty":      {""},
	})
	return e
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
		reflect.DeepEqual(a.Header(), b.Header()) &&
		reflect.DeepEqual(nilIfEmpty(a.Tags), nilIfEmpty(b.Tags)) &&
		reflect.DeepEqual(nilIfEmpty(a.Vary), nilIfEmpty(b.Vary)) &&
		a.RequestTime.Equal(b.RequestTime) && a.ResponseTime.Equal(b.ResponseTime) &&
		a.FetchGen == b.FetchGen
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

// withHeader is an entry with its header, which json and gob cannot see
// (it is unexported).
type withHeader struct {
	Entry  *gateway.Entry
	Header http.Header
}

// BenchmarkCodecAlternatives measures what the codec is chosen over.
func BenchmarkCodecAlternatives(b *testing.B) {
	e := sampleEntry()
	e.Body = make([]byte, 2048)
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			enc, _ := json.Marshal(withHeader{e, e.Header()})
			var out withHeader
			if err := json.Unmarshal(enc, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gob", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var buf bytes.Buffer
			if err := gob.NewEncoder(&buf).Encode(withHeader{e, e.Header()}); err != nil {
				b.Fatal(err)
			}
			var out withHeader
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

// TestCodecDecodesEarlierEncodings: entries that L2 already holds, written
// when a stored header was a map (its keys in map order, not sorted),
// decode to the same entry; the wire format did not change, so they are
// hits, not misses. The bytes are what that encoder wrote.
func TestCodecDecodesEarlierEncodings(t *testing.T) {
	const old = "6301c80180c49fd50c0582c49fd50c06070568656c6c6f03040201044c696e6b02153c2f612e6373733e3b2072656c3d7072656c6f6164143c2f622e6a733e3b2072656c3d7072656c6f616404457461670104227631220c436f6e74656e742d547970650109746578742f68746d6c0970726f647563743a310875726c3a2f702f310f4163636570742d456e636f64696e67"
	b, err := hex.DecodeString(old)
	if err != nil {
		t.Fatal(err)
	}
	want := &gateway.Entry{
		Status:       200,
		Body:         []byte("hello"),
		Tags:         []string{"product:1", "url:/p/1"},
		RequestTime:  time.Unix(1700000000, 5).UTC(),
		ResponseTime: time.Unix(1700000001, 6).UTC(),
		FetchGen:     7,
		Vary:         []string{"Accept-Encoding"},
	}
	want.SetHeader(http.Header{
		"Content-Type": {"text/html"},
		"Link":         {"</a.css>; rel=preload", "</b.js>; rel=preload"},
		"Etag":         {`"v1"`},
	})
	got := mustDecode(t, string(b))
	if !entriesEqual(got, want) {
		t.Fatalf("old encoding:\n got %+v\nwant %+v", got, want)
	}
	// Its lines come back sorted, a field's lines in their order: what
	// the hit path and the encoder rely on.
	var lines []string
	for k, v := range got.HeaderFields() {
		lines = append(lines, k+": "+v)
	}
	wantLines := []string{"Content-Type: text/html", `Etag: "v1"`, "Link: </a.css>; rel=preload", "Link: </b.js>; rel=preload"}
	if !reflect.DeepEqual(lines, wantLines) {
		t.Fatalf("header lines %q, want %q", lines, wantLines)
	}
	// Encoded again, they are what a reader of the earlier format reads
	// (each field once, with all its values).
	if again := mustDecode(t, Encode(got)); !entriesEqual(again, want) {
		t.Fatalf("re-encoded: %+v", again)
	}
}
