package topk

import (
	"container/heap"
	"slices"
	"strings"
)

// Item is one kept key: Count observations at most Err too many.
type Item[V any] struct {
	Key   string
	Count uint64
	Err   uint64
	// Value is what the owner last stored with the key.
	Value V
	index int // in the heap
}

// Sketch keeps the k most frequent keys seen. The zero value is not
// usable; call New.
type Sketch[V any] struct {
	k     int
	items map[string]*Item[V]
	h     minHeap[V]
}

// New returns a Sketch keeping k keys (k < 1 is taken as 1).
func New[V any](k int) *Sketch[V] {
	k = max(k, 1)
	return &Sketch[V]{k: k, items: make(map[string]*Item[V], k)}
}

// Observe counts one occurrence of key and sets its value. A key not kept
// while all k counters are taken replaces the least counted one, inheriting
// its count as error: so memory stays k items, whatever the stream.
func (s *Sketch[V]) Observe(key string, v V) {
	if it, ok := s.items[key]; ok {
		it.Count++
		it.Value = v
		heap.Fix(&s.h, it.index)
		return
	}
	// The sketch keeps key past the call, and a caller may reuse its
	// bytes (the gateway's primary key lives in a recycled buffer).
	key = strings.Clone(key)
	if len(s.h) < s.k {
		it := &Item[V]{Key: key, Count: 1, Value: v}
		s.items[key] = it
		heap.Push(&s.h, it)
		return
	}
	it := s.h[0]
	delete(s.items, it.Key)
	it.Key, it.Err, it.Value = key, it.Count, v
	it.Count++
	s.items[key] = it
	heap.Fix(&s.h, 0)
}

// Len is the number of keys kept.
func (s *Sketch[V]) Len() int { return len(s.h) }

// Top returns copies of the kept items for which keep returns true (nil
// keeps all), most counted first, at most n (n < 1: all).
func (s *Sketch[V]) Top(n int, keep func(key string, v V) bool) []Item[V] {
	out := make([]Item[V], 0, len(s.h))
	for _, it := range s.h {
		if keep == nil || keep(it.Key, it.Value) {
			out = append(out, *it)
		}
	}
	slices.SortFunc(out, func(a, b Item[V]) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		if a.Key < b.Key {
			return -1
		}
		if a.Key > b.Key {
			return 1
		}
		return 0
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

// minHeap orders the items by count, least first.
type minHeap[V any] []*Item[V]

func (h minHeap[V]) Len() int           { return len(h) }
func (h minHeap[V]) Less(i, j int) bool { return h[i].Count < h[j].Count }
func (h minHeap[V]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *minHeap[V]) Push(x any) {
	it := x.(*Item[V])
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *minHeap[V]) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
