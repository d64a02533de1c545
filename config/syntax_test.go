package config

import (
	"strings"
	"testing"
)

// TestSyntaxErrorLines: a YAML syntax error is reported on the line where
// it is, not on the line before (the archived yaml.v3 put an unclosed
// bracket on line 3 on line 2).
func TestSyntaxErrorLines(t *testing.T) {
	tests := []struct {
		name string
		src  string
		// line starts the message: "FILE:LINE: YAML: ". An unclosed
		// bracket is found where the parser finds what cannot continue
		// the list: the end of the file, or the next line's key.
		line string
	}{
		{"unclosed bracket", "listen: 127.0.0.1:8080\norigin: http://127.0.0.1:8081\nsession_cookies: [a, b\n", "c.yaml:3: YAML: "},
		{"unclosed bracket then more", "listen: 127.0.0.1:8080\norigin: http://127.0.0.1:8081\nsession_cookies: [a, b\nvia: true\n", "c.yaml:4: YAML: ',' or ']' must be specified"},
		{"unclosed brace", "listen: 127.0.0.1:8080\nl1: {max_bytes: 1\n", "c.yaml:2: YAML: "},
		{"unclosed quote", "listen: 127.0.0.1:8080\norigin: \"http://x\n", "c.yaml:2: YAML: "},
		{"tab indentation", "l1:\n\tmax_bytes: 1\n", "c.yaml:2: YAML: "},
		{"bad indentation", "l1:\n  max_bytes: 1\n   x: 2\n", "c.yaml:3: YAML: "},
		{"key without value in flow", "listen: :1\ncache: {keep: }}\n", "c.yaml:2: YAML: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.src), env())
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.HasPrefix(err.Error(), tt.line) {
				t.Errorf("got %q, want it to start with %q", err, tt.line)
			}
		})
	}
}
