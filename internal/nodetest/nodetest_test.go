package nodetest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/internal/nodetest"
)

func TestStartServesThroughTheGateway(t *testing.T) {
	origin := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		io.WriteString(w, "hello")
	})}
	ln := listen(t)
	go origin.Serve(ln)
	t.Cleanup(func() { origin.Close() })

	n := nodetest.Start(t, nodetest.Options{Origin: "http://" + ln.Addr().String()})
	var statuses []string
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest(http.MethodGet, n.URL+"/", nil)
		req.Host = "acme.localhost"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses = append(statuses, resp.Header.Get("Cache-Status"))
	}
	if !strings.Contains(statuses[0], "fwd=uri-miss") || !strings.Contains(statuses[1], "hit; detail=l1") {
		t.Fatalf("Cache-Status = %q", statuses)
	}
}
