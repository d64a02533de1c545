package stats

import "time"

// Merge adds snapshots of several instances into one: counts summed, ratios
// recomputed from the sums, Time the newest, UptimeSeconds the longest.
// Rows past an instance's table bound are already in its Other row, so
// the merged tables are bounded by the instances' bounds together.
func Merge(snaps ...Snapshot) Snapshot {
	out := Snapshot{
		Counts:      Counts{Layers: map[string]LayerCounts{}},
		Tenants:     map[string]Counts{},
		Routes:      map[string]Counts{},
		Prefixes:    map[string]Counts{},
		TagPrefixes: map[string]TagCounts{},
	}
	for _, s := range snaps {
		if s.Time.After(out.Time) {
			out.Time = s.Time
		}
		out.UptimeSeconds = max(out.UptimeSeconds, s.UptimeSeconds)
		out.Counts = addCounts(out.Counts, s.Counts)
		for dst, src := range map[*map[string]Counts]map[string]Counts{
			&out.Tenants: s.Tenants, &out.Routes: s.Routes, &out.Prefixes: s.Prefixes,
		} {
			for k, c := range src {
				(*dst)[k] = addCounts((*dst)[k], c)
			}
		}
		for k, c := range s.TagPrefixes {
			t := out.TagPrefixes[k]
			t.Requests += c.Requests
			t.Hits += c.Hits
			t.HitRatio = ratio(t.Hits, t.Requests)
			out.TagPrefixes[k] = t
		}
	}
	if out.Time.IsZero() {
		out.Time = time.Now()
	}
	return out
}

// addCounts sums two rows. The share answered without the origin is
// recomputed from the origin layer's hits, which count the forwarded
// requests (Request.Forwarded).
func addCounts(a, b Counts) Counts {
	out := Counts{Requests: a.Requests + b.Requests, Layers: make(map[string]LayerCounts, len(Layers))}
	for _, name := range Layers {
		x, y := a.Layers[name], b.Layers[name]
		lc := LayerCounts{Hits: x.Hits + y.Hits, Misses: x.Misses + y.Misses}
		lc.HitRatio = ratio(lc.Hits, lc.Hits+lc.Misses)
		out.Layers[name] = lc
	}
	if out.Requests > 0 {
		out.HitRatio = 1 - ratio(out.Layers[Origin].Hits, out.Requests)
	}
	return out
}

func ratio(n, d uint64) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}
