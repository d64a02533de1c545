package config

import "testing"

// TestBrokenDemo is what `cachegate check-config testdata/broken.yaml`
// prints: every problem, in line order, each on its line.
func TestBrokenDemo(t *testing.T) {
	_, err := Load("testdata/broken.yaml")
	if err == nil {
		t.Fatal("broken config accepted")
	}
	want := `testdata/broken.yaml:12: route "account" ttl: a private route is never shared and always answered private, no-store: ttl conflicts with private: true
testdata/broken.yaml:15: route "profile" browser: cache-control "public, max_age=60": unknown directive "max_age" (did you mean "max-age"?)
testdata/broken.yaml:16: route "profile" cdn: cache-control "no-store, max-age=86400": no-store conflicts with max-age
testdata/broken.yaml:17: route "profile" tags[1]: tag template "page:{id}": unknown placeholder {id} (known: {tenant}, {host}, {path})
testdata/broken.yaml:19: route "profile": unknown key "staf_bypass" (did you mean "staff_bypass"?)
testdata/broken.yaml:23: route "companies" match: unreachable: rule 3 (everything) before it matches every request this rule matches
testdata/broken.yaml:24: route "companies".ttl (a duration, "origin" or "auto"): invalid duration "10 minutes" (e.g. 90s, 5m, 1h, 7d)
testdata/broken.yaml:26: l1.max_bytes: invalid size "256 MegaBytes" (e.g. 65536, 512KiB, 256MiB, 1GB)
testdata/broken.yaml:28: cdn.provider: unknown provider "fastlly" (none, cloudflare, fastly, akamai, varnish); did you mean "fastly"?`
	if got := err.Error(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
