package gateway

import "testing"

// TestCheckCacheName: the name is an sf-token (Cache-Status) and a token
// (Via) at once.
func TestCheckCacheName(t *testing.T) {
	for name, ok := range map[string]bool{
		"cachegate": true, "edge-1.fra": true, "Edge_2~x": true,
		"": false, "1edge": false, "edge:1": false, "edge/1": false, "my cache": false, "a;b": false, "é": false, "*x": false,
	} {
		if err := CheckCacheName(name); (err == nil) != ok {
			t.Errorf("CheckCacheName(%q) = %v", name, err)
		}
	}
}
