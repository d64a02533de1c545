package testenv

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// JSONLogLines parses a JSON log (slog's JSON handler, one object a line)
// and fails the test on a line that is not one JSON object or repeats a
// key: a logger's With and a call that name the same key both print it,
// and encoding/json alone would keep the last silently.
func JSONLogLines(t testing.TB, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for i, line := range strings.Split(strings.TrimSpace(log), "\n") {
		m, err := JSONObject(line)
		if err != nil {
			t.Errorf("log line %d: %v: %s", i+1, err, line)
			continue
		}
		out = append(out, m)
	}
	return out
}

// JSONObject parses one JSON object, refusing a key that appears twice at
// any level (encoding/json would keep the last silently).
func JSONObject(line string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	if err := noDuplicateKeys(dec); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value")
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// noDuplicateKeys reads one value from dec.
func noDuplicateKeys(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch delim {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			key := k.(string)
			if seen[key] {
				return fmt.Errorf("key %q appears twice", key)
			}
			seen[key] = true
			if err := noDuplicateKeys(dec); err != nil {
				return err
			}
		}
	case '[':
		for dec.More() {
			if err := noDuplicateKeys(dec); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}
