package config

import (
	"errors"
	"strings"
	"testing"
)

// TestLogAndMetricsSettings: the log and metrics settings are read, and
// wrong values are refused at their line.
func TestLogAndMetricsSettings(t *testing.T) {
	f, err := Parse("ok.yaml", []byte("origin: http://127.0.0.1:3000\nmetrics_listen: 127.0.0.1:9091\nlog:\n  format: json\n  access: true\n  access_sample: 0.25\n"), env())
	if err != nil {
		t.Fatal(err)
	}
	if f.MetricsListen != "127.0.0.1:9091" || f.Log != (Log{Format: LogFormatJSON, Access: true, AccessSample: 0.25}) {
		t.Errorf("read metrics_listen %q, log %+v", f.MetricsListen, f.Log)
	}
	for _, tt := range []struct{ src, want string }{
		{"log:\n  format: yaml\n", `bad.yaml:2: log.format "yaml": text or json`},
		{"log:\n  access_sample: 2\n", "bad.yaml:2: log.access_sample: 2 must be a number from 0 to 1"},
		{"log:\n  access_sample: often\n", "bad.yaml:2: log.access_sample must be a number, got often"},
		{"log:\n  access: yes please\n", "bad.yaml:2: log.access must be true or false"},
		{"metrics_listen: nowhere\n", "bad.yaml:1: metrics_listen"},
	} {
		_, err := Parse("bad.yaml", []byte(tt.src), env())
		var es Errors
		if !errors.As(err, &es) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want %q", tt.src, err, tt.want)
		}
	}
	// Flags and variables land on a File that Validate checks.
	bad := &File{Origin: "http://127.0.0.1:3000", Log: Log{Format: "xml", AccessSample: -1}}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), `log.format "xml"`) || !strings.Contains(err.Error(), "log.access_sample: -1 must be") {
		t.Errorf("Validate = %v, want the format and the sample named", err)
	}
}
