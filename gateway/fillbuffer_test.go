package gateway

import (
	"bytes"
	"testing"

	"github.com/cachegate/cachegate/headers"
)

// TestFillBuffer keeps bodies in the reads a stream makes and checks what
// is kept, what the budget holds meanwhile, and that a stored body is
// allocated to its length (the store keeps it for the entry's lifetime).
func TestFillBuffer(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 8<<10) // 128 KiB
	for _, tt := range []struct {
		name    string
		length  int64 // announced; -1 unknown
		reads   []int // sizes of the reads, summing to the kept bytes
		max     int64
		budget  int64
		why     string // "" when kept whole
		reserve int64  // what the budget holds after newFillBuffer
	}{
		{"announced, one read", 2048, []int{2048}, 1 << 20, 1 << 20, "", 2048},
		{"announced, many reads", int64(len(body)), []int{1, 32 << 10, 32 << 10, 64<<10 - 1}, 1 << 20, 1 << 20, "", int64(len(body))},
		{"unknown, many reads", -1, []int{100, 40 << 10, 80<<10 + 7}, 1 << 20, 1 << 20, "", minReserve},
		{"announced, too large", int64(len(body)), nil, 64 << 10, 1 << 20, headers.DetailTooLarge, 0},
		{"unknown, too large", -1, []int{32 << 10, 32 << 10, 1}, 64 << 10, 1 << 20, headers.DetailTooLarge, minReserve},
		{"announced, beyond the budget", int64(len(body)), nil, 1 << 20, 64 << 10, detailBufferBudget, 0},
		{"unknown, beyond the budget", -1, []int{32 << 10, 32 << 10, 32 << 10}, 1 << 20, 64 << 10, detailBufferBudget, minReserve},
	} {
		t.Run(tt.name, func(t *testing.T) {
			budget := &byteBudget{max: tt.budget}
			f := newFillBuffer(budget, tt.max, tt.length)
			if got := budget.used.Load(); got != tt.reserve {
				t.Fatalf("reserved %d at the start, want %d", got, tt.reserve)
			}
			n := 0
			for _, size := range tt.reads {
				f.keep(body[n : n+size])
				n += size
			}
			if f.why != tt.why {
				t.Fatalf("why %q, want %q", f.why, tt.why)
			}
			if tt.why != "" {
				f.release()
				if got := budget.used.Load(); got != 0 {
					t.Errorf("budget holds %d after release", got)
				}
				return
			}
			if budget.used.Load() < int64(n) {
				t.Errorf("budget holds %d for %d kept bytes", budget.used.Load(), n)
			}
			got := f.body()
			if !bytes.Equal(got, body[:n]) {
				t.Errorf("kept %d bytes, not the %d read", len(got), n)
			}
			if waste := cap(got) - len(got); waste > len(got)/16 {
				t.Errorf("stored body has %d bytes of capacity beyond its %d", waste, len(got))
			}
			if budget.used.Load() != 0 {
				t.Errorf("budget holds %d after the body was handed over", budget.used.Load())
			}
		})
	}
}
