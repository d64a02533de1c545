package config

import (
	"strings"
	"testing"

	"github.com/cachegate/cachegate/policy"
)

// TestParseESI: a rule's esi mode reaches the policy, and a mode that is
// not one is refused at its line.
func TestParseESI(t *testing.T) {
	src := "routes:\n  - name: profile\n    match: { path: /p }\n    esi: assemble\n  - name: cdn\n    match: { path: /c }\n    esi: pass\n"
	f, err := Parse("x.yaml", []byte(src), env())
	if err != nil {
		t.Fatal(err)
	}
	if f.Routes[0].ESI != policy.ESIAssemble || f.Routes[1].ESI != policy.ESIPass {
		t.Errorf("esi = %q, %q", f.Routes[0].ESI, f.Routes[1].ESI)
	}
	_, err = Parse("x.yaml", []byte("default:\n  ttl: 1h\n  esi: yes\n"), env())
	if err == nil || !strings.Contains(err.Error(), "x.yaml:3: default esi: esi must be") {
		t.Errorf("bad esi mode: %v", err)
	}
}
