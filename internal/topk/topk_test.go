package topk

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"
)

func TestSketch(t *testing.T) {
	tests := []struct {
		name   string
		k      int
		stream []string
		want   []string // Top(0) keys in order
	}{
		{"counts", 3, []string{"a", "b", "a", "c", "a", "b"}, []string{"a", "b", "c"}},
		{"replaces the least counted", 2, []string{"a", "a", "b", "c"}, []string{"a", "c"}},
		{"k below one keeps one", 0, []string{"a", "b"}, []string{"b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New[int](tt.k)
			for i, k := range tt.stream {
				s.Observe(k, i)
			}
			top := s.Top(0, nil)
			var got []string
			for _, it := range top {
				got = append(got, it.Key)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Top = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestHeavyHittersKept: on a skewed stream over far more keys than k, the
// truly frequent keys are kept, their counts bound their true counts from
// above by at most Err, and memory stays k items.
func TestHeavyHittersKept(t *testing.T) {
	s := New[string](20)
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(r, 1.2, 1, 10000)
	truth := map[string]uint64{}
	for range 200000 {
		k := fmt.Sprint(z.Uint64())
		truth[k]++
		s.Observe(k, k)
	}
	if s.Len() != 20 {
		t.Fatalf("Len = %d, want 20", s.Len())
	}
	top := s.Top(5, nil)
	for i, it := range top {
		if it.Key != fmt.Sprint(i) {
			t.Errorf("top %d = %q, want %q", i, it.Key, fmt.Sprint(i))
		}
		if it.Count < truth[it.Key] || it.Count-it.Err > truth[it.Key] {
			t.Errorf("%s: count %d err %d, true %d", it.Key, it.Count, it.Err, truth[it.Key])
		}
		if it.Value != it.Key {
			t.Errorf("%s: value %q", it.Key, it.Value)
		}
	}
	if got := s.Top(0, func(k, _ string) bool { return k == "3" }); len(got) != 1 || got[0].Key != "3" {
		t.Errorf("filtered Top = %v", got)
	}
}

// TestObserveKeepsItsOwnKey: a caller may pass a key whose bytes it reuses
// afterwards (the gateway builds its primary key in a recycled buffer); the
// sketch must not see them change.
func TestObserveKeepsItsOwnKey(t *testing.T) {
	s := New[int](4)
	buf := []byte("acme/page-one")
	s.Observe(unsafe.String(unsafe.SliceData(buf), len(buf)), 1)
	copy(buf, "XXXXXXXXXXXXX")
	s.Observe("acme/page-one", 2)
	top := s.Top(0, nil)
	if len(top) != 1 || top[0].Key != "acme/page-one" || top[0].Count != 2 {
		t.Fatalf("Top = %+v, want acme/page-one counted twice", top)
	}
}
