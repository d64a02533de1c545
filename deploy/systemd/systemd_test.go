package systemd_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/internal/testenv"
)

// unit is a parsed unit file: section → key → values, in order.
type unit map[string]map[string][]string

func parse(t *testing.T, b []byte) unit {
	t.Helper()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.HasSuffix(line, "\\") {
				t.Fatalf("cachegate.service:%d: %q is not Key=Value in a section", n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func (u unit) one(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// TestUnit: systemd accepts the unit; it runs the binary's serve with the
// config flag, as a non-root user that writes only its state directory
// (the data dir), with secrets from an environment file whose variables
// the binary reads.
func TestUnit(t *testing.T) {
	b, err := os.ReadFile("cachegate.service")
	if err != nil {
		t.Fatal(err)
	}
	u := parse(t, b)
	for _, s := range []string{"Unit", "Service", "Install"} {
		if u[s] == nil {
			t.Errorf("no [%s] section", s)
		}
	}
	exec0 := strings.Fields(u.one("Service", "ExecStart"))
	if len(exec0) < 4 || filepath.Base(exec0[0]) != "cachegate" || exec0[1] != "serve" || exec0[2] != "--config" {
		t.Fatalf("ExecStart %v: want cachegate serve --config FILE", exec0)
	}
	want := map[string]string{
		"DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
		"PrivateTmp": "yes", "StateDirectory": "cachegate", "Restart": "on-failure", "KillSignal": "SIGTERM",
	}
	for k, v := range want {
		if got := u.one("Service", k); got != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	env := map[string]string{}
	for _, e := range u["Service"]["Environment"] {
		k, v, _ := strings.Cut(e, "=")
		env[k] = v
	}
	if env["CACHEGATE_DATA_DIR"] != "/var/lib/"+u.one("Service", "StateDirectory") {
		t.Errorf("CACHEGATE_DATA_DIR=%q, but the writable StateDirectory is /var/lib/%s", env["CACHEGATE_DATA_DIR"], u.one("Service", "StateDirectory"))
	}
	envFile, err := os.ReadFile("cachegate.env")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(envFile)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(k, "#") {
			env[k] = v
		}
	}
	src := testenv.GoSource(t, filepath.Join("..", "..", "cmd", "cachegate"))
	for k := range env {
		if !strings.Contains(src, `"`+k+`"`) {
			t.Errorf("%s: the binary reads no such variable", k)
		}
	}
	if len(env["CACHEGATE_ADMIN_TOKEN"]) < 16 {
		t.Errorf("the example admin token is shorter than serve accepts")
	}

	// systemd's own checker, on a copy whose ExecStart is a real binary.
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is needed to verify the unit: apt-get install systemd")
	}
	bin := filepath.Join(testenv.GoBuild(t, "github.com/cachegate/cachegate/cmd/cachegate"), "cachegate")
	dir := t.TempDir()
	unitText := strings.ReplaceAll(string(b), exec0[0], bin)
	unitText = strings.Replace(unitText, "EnvironmentFile=", "EnvironmentFile=-", 1)
	if err := os.WriteFile(filepath.Join(dir, "cachegate.service"), []byte(unitText), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", filepath.Join(dir, "cachegate.service")).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("cachegate.service")) {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The command line is one the binary takes.
	cmd := exec.Command(bin, "serve", "-h")
	help, _ := cmd.CombinedOutput()
	if !bytes.Contains(help, []byte("-config")) {
		t.Errorf("cachegate serve takes no --config:\n%s", help)
	}
}
