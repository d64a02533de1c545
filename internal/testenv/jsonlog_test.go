package testenv

import "testing"

// TestJSONObject: the duplicate-key check can fail.
func TestJSONObject(t *testing.T) {
	for _, tt := range []struct {
		line string
		ok   bool
	}{
		{`{"a":1,"b":{"a":2},"c":[{"a":1}]}`, true},
		{`{"component":"x","component":"y"}`, false},
		{`{"a":{"b":1,"b":2}}`, false},
		{`{"a":[{"b":1,"b":2}]}`, false},
		{`not json`, false},
	} {
		if _, err := JSONObject(tt.line); (err == nil) != tt.ok {
			t.Errorf("JSONObject(%s) = %v, want ok %v", tt.line, err, tt.ok)
		}
	}
}
