package purge

import (
	"encoding/base64"
	"fmt"
)

// keyToken turns a purge id into one KV key token. Ids made only of
// letters, digits, '-' and '_' are used as they are, so keys stay readable;
// any other id (event ids are chosen by publishers) is base64url-encoded
// behind a '=' that a plain id cannot contain, so the two never collide.
func keyToken(id string) string {
	if isPlainToken(id) {
		return id
	}
	return "=" + base64.RawURLEncoding.EncodeToString([]byte(id))
}

// idFromToken reverses keyToken.
func idFromToken(tok string) (string, error) {
	if len(tok) > 0 && tok[0] == '=' {
		b, err := base64.RawURLEncoding.DecodeString(tok[1:])
		if err != nil {
			return "", fmt.Errorf("purge: bad key token %q: %w", tok, err)
		}
		return string(b), nil
	}
	return tok, nil
}

func isPlainToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ValidateTarget checks a target name (a layer or a provider's Name): 1 to
// 64 letters, digits, '-' or '_', since it is a key token in the state
// store and a label value in metrics.
func ValidateTarget(name string) error {
	if len(name) > 64 || !isPlainToken(name) {
		return fmt.Errorf("purge: target %q: 1 to 64 letters, digits, '-' or '_'", name)
	}
	return nil
}
