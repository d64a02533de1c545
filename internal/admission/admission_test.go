package admission

import (
	"fmt"
	"sync"
	"testing"
)

func TestSeen(t *testing.T) {
	f := New(1000)
	if f.Seen("a") {
		t.Fatal("a seen before it was recorded")
	}
	if !f.Seen("a") {
		t.Fatal("a not seen the second time")
	}
	// False positives stay near the design's 1% within the window.
	fp := 0
	for i := range 900 {
		if f.Seen(fmt.Sprint("k", i)) {
			fp++
		}
	}
	if fp > 30 {
		t.Errorf("%d of 900 new keys read as seen", fp)
	}
}

// TestRotation: a key recorded in the previous generation is still seen
// after a rotation, and forgotten after two.
func TestRotation(t *testing.T) {
	f := New(100)
	f.Seen("hot")
	fill := func(round int) {
		for i := range 100 {
			f.Seen(fmt.Sprint(round, "-", i))
		}
	}
	fill(1) // rotates: "hot" is in the previous generation
	if !f.Seen("hot") {
		t.Fatal("hot forgotten after one rotation")
	}
	f2 := New(100)
	f2.Seen("once")
	fill2 := func(round int) {
		for i := range 100 {
			f2.Seen(fmt.Sprint(round, "-", i))
		}
	}
	fill2(1)
	fill2(2)
	fill2(3)
	if f2.Seen("once") {
		t.Error("a key seen once is still remembered after the window passed")
	}
}

func TestConcurrent(t *testing.T) {
	f := New(64)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				f.Seen(fmt.Sprint(w, i%300))
			}
		})
	}
	wg.Wait()
	f.Seen("x")
	if !f.Seen("x") {
		t.Error("a key recorded twice in a row is not seen")
	}
}
