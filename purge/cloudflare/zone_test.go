package cloudflare

import "testing"

func TestCheckZoneID(t *testing.T) {
	for id, ok := range map[string]bool{
		"0123456789abcdef0123456789abcdef": true,
		"0123456789ABCDEF0123456789ABCDEF": false, "0123456789abcdef": false, "": false,
		"0123456789abcdef0123456789abcdeg": false, "0123456789abcdef0123456789abcdef0": false,
	} {
		if err := CheckZoneID(id); (err == nil) != ok {
			t.Errorf("CheckZoneID(%q) = %v", id, err)
		}
	}
}
