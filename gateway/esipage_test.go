package gateway

import (
	"sync"
	"testing"
)

// TestESIPagesBudget: kept pages never hold more than their budget, a
// page over the per-page bound is not kept, and what the table counts is
// what its slots hold, also under concurrent keeps.
func TestESIPagesBudget(t *testing.T) {
	var pages esiPages
	held := func() (n int64, count int) {
		for i := range pages.slots {
			if p := pages.slots[i].Load(); p != nil {
				n += p.size
				count++
			}
		}
		return n, count
	}
	pages.keep(&esiPage{shell: &Entry{}, size: esiPageMax + 1})
	if n, c := held(); n != 0 || c != 0 || pages.used.Load() != 0 {
		t.Fatalf("a page over the bound was kept: %d bytes in %d pages", n, c)
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Go(func() {
			for i := 0; i < 500; i++ {
				pages.keep(&esiPage{shell: &Entry{}, size: esiPageMax / 4})
				if u := pages.used.Load(); u > esiPageBudget {
					t.Errorf("%d bytes held, over the budget of %d", u, esiPageBudget)
					return
				}
			}
		})
	}
	wg.Wait()
	for i := 0; i < 200; i++ { // fills it to within a page, whatever the race left
		pages.keep(&esiPage{shell: &Entry{}, size: esiPageMax / 4})
	}
	n, c := held()
	if n != pages.used.Load() || n > esiPageBudget {
		t.Fatalf("slots hold %d bytes in %d pages, the table counts %d (budget %d)", n, c, pages.used.Load(), esiPageBudget)
	}
	// A full table makes room for a page in a slot of its own.
	var p *esiPage
	for {
		p = &esiPage{shell: &Entry{}, size: esiPageMax}
		if a, b := pages.slot(p.shell); a.Load() == nil && b.Load() == nil {
			break
		}
	}
	if pages.used.Load()+p.size <= esiPageBudget {
		t.Fatalf("the table is not full: %d bytes held", pages.used.Load())
	}
	pages.keep(p)
	if a, b := pages.slot(p.shell); a.Load() != p && b.Load() != p {
		t.Fatal("a full table kept no room for a new page")
	}
	if n, _ := held(); n != pages.used.Load() || n > esiPageBudget {
		t.Fatalf("slots hold %d bytes, the table counts %d (budget %d)", n, pages.used.Load(), esiPageBudget)
	}
	// Two variants of one page are kept side by side.
	shell := &Entry{}
	v1, v2 := &esiPage{shell: shell, size: 1}, &esiPage{shell: shell, size: 1}
	var fresh esiPages
	fresh.keep(v1)
	fresh.keep(v2)
	a, b := fresh.slot(shell)
	if a.Load() != v1 || b.Load() != v2 {
		t.Fatal("a second variant replaced the first in an empty slot")
	}
}
