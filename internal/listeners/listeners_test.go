package listeners

import (
	"testing"

	"github.com/cachegate/cachegate/internal/setting"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		want []string // fields with a problem
	}{
		{"defaults", Config{}, nil},
		{"free ports everywhere", Config{Gateway: "127.0.0.1:0", Admin: "127.0.0.1:0", Metrics: "127.0.0.1:0"}, nil},
		{"all interfaces", Config{Gateway: ":8080"}, nil},
		{"no port", Config{Gateway: "127.0.0.1"}, []string{"listen"}},
		{"port too large", Config{Admin: "127.0.0.1:70000"}, []string{"admin_listen"}},
		{"named port", Config{Metrics: "127.0.0.1:http"}, []string{"metrics_listen"}},
		{"admin on the gateway's default", Config{Admin: DefaultGateway}, []string{"admin_listen"}},
		{"metrics on the admin's", Config{Admin: "127.0.0.1:9000", Metrics: "127.0.0.1:9000"}, []string{"metrics_listen"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range setting.All(tt.c.Validate()) {
				got = append(got, e.Field)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("problems in %v, want %v (%v)", got, tt.want, tt.c.Validate())
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("problems in %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestOpen(t *testing.T) {
	gw, admin, metrics, err := Config{Gateway: "127.0.0.1:0", Admin: "127.0.0.1:0"}.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	defer admin.Close()
	if metrics != nil {
		t.Error("a metrics listener without metrics_listen")
	}
	// A taken port fails, naming the listener, and leaves nothing open.
	_, _, _, err = Config{Gateway: "127.0.0.1:0", Admin: gw.Addr().String()}.Open()
	if err == nil {
		t.Fatal("Open on a taken port succeeded")
	}
}
