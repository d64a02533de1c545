package memcachestore

import (
	"fmt"
	"math"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"
)

// TestRingSpreadsAndIsConsistent: keys spread over every server, and
// removing one of three moves only that server's keys (about a third);
// the modulo ServerList moves about two thirds.
func TestRingSpreadsAndIsConsistent(t *testing.T) {
	three := []string{"127.0.0.1:11211", "127.0.0.1:11212", "127.0.0.1:11213"}
	const n = 30000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("cg:e:%d", i)
	}
	for _, c := range []struct {
		name     string
		sel      func(servers []string) memcache.ServerSelector
		min, max float64 // share of the keys on surviving servers that moved
	}{
		{"ketama ring", func(s []string) memcache.ServerSelector {
			r, err := newRing(s)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}, 0, 0.01},
		{"modulo list (the comparison)", func(s []string) memcache.ServerSelector {
			var l memcache.ServerList
			if err := l.SetServers(s...); err != nil {
				t.Fatal(err)
			}
			return &l
		}, 0.3, 1}, // why the ring: most keys, and their records, would move
	} {
		t.Run(c.name, func(t *testing.T) {
			before, after := c.sel(three), c.sel(three[:2])
			perServer := map[string]int{}
			moved, stayed := 0, 0
			for _, k := range keys {
				a, _ := before.PickServer(k)
				b, _ := after.PickServer(k)
				perServer[a.String()]++
				if a.String() == three[2] {
					continue // its keys must move
				}
				if a.String() != b.String() {
					moved++
				} else {
					stayed++
				}
			}
			for _, s := range three {
				if share := float64(perServer[s]) / n; math.Abs(share-1.0/3) > 0.1 {
					t.Errorf("%s holds %.2f of the keys, want about a third", s, share)
				}
			}
			share := float64(moved) / float64(moved+stayed)
			t.Logf("keys of the surviving servers that moved: %.3f", share)
			if share < c.min || share > c.max {
				t.Errorf("%.3f of the keys of surviving servers moved, want %.2f to %.2f", share, c.min, c.max)
			}
		})
	}
}
