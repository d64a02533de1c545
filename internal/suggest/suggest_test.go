package suggest

import "testing"

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"listen", "listen", 0},
		{"Listen", "listen", 0},
		{"admin-listen", "admin_listen", 0},
		{"lsten", "listen", 1},
		{"max-age", "s-maxage", 3},
		{"abc", "xyz", 3},
	} {
		if got := Distance(tt.a, tt.b); got != tt.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestClosest(t *testing.T) {
	words := []string{"origin", "listen", "admin_listen", "routes"}
	for _, tt := range []struct {
		s     string
		limit int
		want  string
	}{
		{"orgin", 3, "origin"},
		{"admin-listn", 3, "admin_listen"},
		{"route", 3, "routes"},
		{"zzzzzz", 3, ""},
		{"lsten", 1, ""}, // distance 1 is not below 1
	} {
		if got := Closest(tt.s, words, tt.limit); got != tt.want {
			t.Errorf("Closest(%q, %d) = %q, want %q", tt.s, tt.limit, got, tt.want)
		}
	}
	if got := Closest("ab", []string{"b", "a"}, 3); got != "a" {
		t.Errorf("tie: got %q, want the alphabetically first", got)
	}
}
