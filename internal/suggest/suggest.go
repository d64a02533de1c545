// Package suggest finds the likely intended word for a misspelt one, for
// the "did you mean" hints of the config loader and the policy checks. It
// is the one edit distance both use; a library would add a dependency for
// twenty lines.
package suggest

// Closest returns the candidate nearest to s whose distance is below limit,
// the alphabetically first on a tie, or "" when none is that near.
func Closest(s string, candidates []string, limit int) string {
	best, bestD := "", limit
	for _, c := range candidates {
		if d := Distance(s, c); d < bestD || d == bestD && best != "" && c < best {
			best, bestD = c, d
		}
	}
	return best
}

// Distance is the Levenshtein distance of a and b, ignoring the case of
// ASCII letters and taking '-' and '_' for the same character. Words over
// 64 bytes are never near anything.
func Distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if fold(a[i-1]) == fold(b[j-1]) {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func fold(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c + 'a' - 'A'
	case c == '-':
		return '_'
	}
	return c
}
