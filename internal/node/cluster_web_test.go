package node_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/nodetest"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/web"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func adminDo(t *testing.T, method, u, body string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// TestDashboardSeesTheCluster: two instances on one NATS. Each one's
// /api/v1/stats adds up both and lists each; a dashboard login on one is
// valid on the other, and a logout on the other ends it on both; the
// audit log shows on one what was done on the other.
func TestDashboardSeesTheCluster(t *testing.T) {
	srv := testenv.StartNATS(t)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "page")
	}))
	t.Cleanup(origin.Close)
	nodes := []*nodetest.Node{
		nodetest.Start(t, nodetest.Options{NATSURL: srv.URL, Origin: origin.URL}),
		nodetest.Start(t, nodetest.Options{NATSURL: srv.URL, Origin: origin.URL}),
	}
	// 3 requests to the first, 1 to the second.
	for i, n := range []int{3, 1} {
		for range n {
			req, _ := http.NewRequest("GET", nodes[i].URL+"/products/1", nil)
			req.Host = "acme.test"
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	auth := []string{"Authorization", "Bearer " + nodetest.Token}
	for i, n := range nodes {
		testenv.WaitFor(t, 15*time.Second, func() error {
			code, _, b := adminDo(t, "GET", n.AdminURL+"/api/v1/stats", "", auth...)
			var st web.StatsResponse
			if err := json.Unmarshal(b, &st); err != nil || code != 200 {
				return fmt.Errorf("node %d: %d %s", i, code, b)
			}
			var each []uint64
			for _, s := range st.Instances {
				each = append(each, s.Requests)
			}
			if st.Requests != 4 || len(st.Instances) != 2 || st.Prefixes["/products"].Requests != 4 ||
				st.Instances[st.Instance].Requests != []uint64{3, 1}[i] {
				return fmt.Errorf("node %d sees %d requests over %d instances %v (itself %s)", i, st.Requests, len(st.Instances), each, st.Instance)
			}
			return nil
		})
	}

	// Log in on the first; the session works on the second.
	code, h, _ := adminDo(t, "POST", nodes[0].AdminURL+"/login", url.Values{"token": {nodetest.Token}}.Encode(),
		"Content-Type", "application/x-www-form-urlencoded")
	cookie := regexp.MustCompile(web.SessionCookie + `=([^;]+)`).FindStringSubmatch(h.Get("Set-Cookie"))
	if code != http.StatusSeeOther || cookie == nil {
		t.Fatalf("login: %d %v", code, h)
	}
	sess := []string{"Cookie", web.SessionCookie + "=" + cookie[1]}
	code, _, page := adminDo(t, "GET", nodes[1].AdminURL+"/", "", sess...)
	csrf := regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`).FindSubmatch(page)
	if code != 200 || csrf == nil {
		t.Fatalf("the other instance's dashboard with the session: %d", code)
	}
	// A purge through the second instance's session is in the first's audit log.
	code, _, b := adminDo(t, "POST", nodes[1].AdminURL+"/api/v1/purge?wait=1", `{"id":"cluster-audit-1","tenant":"acme","tags":["x"]}`,
		append(sess, web.CSRFHeader, string(csrf[1]), "Content-Type", "application/json")...)
	if code != 200 {
		t.Fatalf("purge with the session on the other instance: %d %s", code, b)
	}
	testenv.WaitFor(t, 10*time.Second, func() error {
		_, _, b := adminDo(t, "GET", nodes[0].AdminURL+"/api/v1/audit", "", auth...)
		if !strings.Contains(string(b), "cluster-audit-1") {
			return fmt.Errorf("the first instance's audit log lacks the purge: %s", b)
		}
		return nil
	})
	// Logging out on the second ends the session on the first.
	if code, _, b := adminDo(t, "POST", nodes[1].AdminURL+"/logout", "", append(sess, web.CSRFHeader, string(csrf[1]))...); code != http.StatusSeeOther {
		t.Fatalf("logout: %d %s", code, b)
	}
	if code, h, _ := adminDo(t, "GET", nodes[0].AdminURL+"/", "", sess...); code != http.StatusSeeOther || h.Get("Location") != "/login" {
		t.Fatalf("after logout elsewhere, the dashboard: %d to %q", code, h.Get("Location"))
	}
}
