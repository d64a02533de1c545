package purge

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// validateOrder checks Provider.After: every name is a configured
// provider other than itself, named once, and the order has no cycle
// (which would hold a purge back forever).
func validateOrder(ps []Provider) error {
	after := make(map[string][]string, len(ps))
	for _, p := range ps {
		after[p.Purger.Name()] = p.After
	}
	for _, p := range ps {
		n := p.Purger.Name()
		seen := map[string]bool{}
		for _, b := range p.After {
			switch _, ok := after[b]; {
			case b == n:
				return fmt.Errorf("purge: provider %s: After names itself", n)
			case !ok:
				return fmt.Errorf("purge: provider %s: After names %q, which is not a configured provider", n, b)
			case seen[b]:
				return fmt.Errorf("purge: provider %s: After names %q twice", n, b)
			}
			seen[b] = true
		}
	}
	// Depth-first search; a provider met again while on the path closes
	// a cycle, reported along the path.
	const (
		unvisited = iota
		onPath
		finished
	)
	mark := make(map[string]int, len(ps))
	var path []string
	var visit func(n string) error
	visit = func(n string) error {
		switch mark[n] {
		case onPath:
			i := slices.Index(path, n)
			return fmt.Errorf("purge: providers ordered in a cycle: %s", strings.Join(append(slices.Clone(path[i:]), n), " after "))
		case finished:
			return nil
		}
		mark[n] = onPath
		path = append(path, n)
		for _, b := range after[n] {
			if err := visit(b); err != nil {
				return err
			}
		}
		path = path[:len(path)-1]
		mark[n] = finished
		return nil
	}
	for _, p := range ps {
		if err := visit(p.Purger.Name()); err != nil {
			return err
		}
	}
	return nil
}

// closeOrder returns, per provider, every provider it waits for: its
// After and theirs, transitively, so that a purge not targeting the middle
// layer still keeps the outer layer after the inner one. ps is valid.
func closeOrder(ps []Provider) map[string][]string {
	after := make(map[string][]string, len(ps))
	for _, p := range ps {
		after[p.Purger.Name()] = p.After
	}
	out := map[string][]string{}
	for _, p := range ps {
		n := p.Purger.Name()
		seen := map[string]bool{}
		stack := slices.Clone(after[n])
		for len(stack) > 0 {
			b := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[b] {
				continue
			}
			seen[b] = true
			stack = append(stack, after[b]...)
		}
		if len(seen) > 0 {
			out[n] = slices.Sorted(maps.Keys(seen))
		}
	}
	return out
}
