package examples_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/nodetest"
)

// get asks the gateway for path as tenant acme and returns Cache-Status.
func get(t *testing.T, gateway, path string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, gateway+path, nil)
	req.Host = "acme"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Header.Get("Cache-Status")
}

func TestExamples(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		switch r.URL.Path {
		case "/":
			w.Header().Set("Surrogate-Key", "company:acme")
		case "/gallery":
			w.Header().Set("Surrogate-Key", "gallery:acme")
		}
		io.WriteString(w, "page "+r.URL.Path)
	}))
	t.Cleanup(origin.Close)
	n := nodetest.Start(t, nodetest.Options{Origin: origin.URL})

	// The app's token, as an operator creates it.
	req, _ := http.NewRequest(http.MethodPost, n.AdminURL+"/api/v1/tokens", strings.NewReader(`{"tenant":"acme","name":"examples"}`))
	req.Header.Set("Authorization", "Bearer "+nodetest.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ Token string }
	_ = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || created.Token == "" {
		t.Fatalf("create token: %d %+v", resp.StatusCode, created)
	}

	for _, ex := range []struct {
		name, tool, install string
		args                []string
	}{
		{"curl", "curl", "apt-get install curl", []string{"sh", "publish.sh"}},
		{"python", "python3", "apt-get install python3", []string{"python3", "publish.py"}},
		{"node", "node", "apt-get install nodejs (make deps does)", []string{"node", "publish.mjs"}},
		{"ruby", "ruby", "apt-get install ruby (make deps does)", []string{"ruby", "publish.rb"}},
	} {
		t.Run(ex.name, func(t *testing.T) {
			if _, err := exec.LookPath(ex.tool); err != nil {
				t.Fatalf("%s is needed to run the %s example: %s", ex.tool, ex.name, ex.install)
			}
			for _, p := range []string{"/", "/gallery"} {
				get(t, n.URL, p)
				if cs := get(t, n.URL, p); !strings.Contains(cs, "hit") {
					t.Fatalf("%s before the example: %q, want a hit", p, cs)
				}
			}
			cmd := exec.Command(ex.args[0], ex.args[1:]...)
			cmd.Env = append(os.Environ(), "CACHEGATE_URL="+n.AdminURL,
				"CACHEGATE_TENANT_TOKEN="+created.Token, "CACHEGATE_ADMIN_TOKEN="+nodetest.Token)
			cmd.WaitDelay = time.Minute
			out, err := cmd.Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("%v: %v\n%s%s", ex.args, err, out, stderr)
			}
			// Two answers, each one JSON object saying applied.
			applied := 0
			for l := range strings.Lines(string(out)) {
				var a struct {
					ID      string `json:"id"`
					Applied bool   `json:"applied"`
				}
				if json.Unmarshal([]byte(l), &a) == nil && a.ID != "" && a.Applied {
					applied++
				}
			}
			if applied != 2 {
				t.Errorf("%v printed %q: want two applied answers", ex.args, out)
			}
			// Applied means gone: the next requests go to the origin.
			for _, p := range []string{"/", "/gallery"} {
				if cs := get(t, n.URL, p); !strings.Contains(cs, "miss") || strings.Contains(cs, "hit") {
					t.Errorf("%s after the example: %q, want a miss", p, cs)
				}
			}
		})
	}
}
