package compose_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/cachegate/cachegate/web"
)

// repoRoot is the directory of go.mod above the test's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// load loads docker-compose.yml as docker compose would, with env as the
// only environment (the machine's own variables must not leak in).
func load(t *testing.T, env ...string) *types.Project {
	t.Helper()
	root := repoRoot(t)
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithEnv(env), cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

func TestComposeFileLoads(t *testing.T) {
	p := load(t)
	if p.Name != "cachegate" {
		t.Errorf("project name %q", p.Name)
	}
	for _, name := range []string{"nats", "redis", "origin", "cachegate"} {
		if _, ok := p.Services[name]; !ok {
			t.Errorf("no service %q", name)
		}
	}
	// serve refuses a token shorter than web.MinTokenLength: the default
	// must pass, or compose crash-loops as written.
	if got := env(p.Services["cachegate"], "CACHEGATE_ADMIN_TOKEN"); len(got) < web.MinTokenLength {
		t.Errorf("admin token default %q is shorter than the %d characters serve requires", got, web.MinTokenLength)
	}
	p = load(t, "CACHEGATE_ADMIN_TOKEN=s3cret-from-the-environment")
	if got := env(p.Services["cachegate"], "CACHEGATE_ADMIN_TOKEN"); got != "s3cret-from-the-environment" {
		t.Errorf("admin token from the environment %q", got)
	}
	nats := p.Services["nats"]
	if !slices.Contains(nats.Command, "-js") || flagValue(nats.Command, "-sd") != "/data" || len(nats.Volumes) == 0 || nats.Volumes[0].Target != "/data" {
		t.Errorf("nats must run JetStream with its store on a volume: command %v, volumes %v", nats.Command, nats.Volumes)
	}
}

func env(s types.ServiceConfig, name string) string {
	if v := s.Environment[name]; v != nil {
		return *v
	}
	return ""
}

// flagValue returns the argument after flag in cmd.
func flagValue(cmd []string, flag string) string {
	for i, a := range cmd {
		if a == flag && i+1 < len(cmd) {
			return cmd[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

// explicitTag is a full version: 1.2.3, optionally with a variant suffix.
var explicitTag = regexp.MustCompile(`^v?\d+\.\d+\.\d+(-[a-z0-9.]+)?$`)

func splitImage(image string) (name, tag string) {
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		return image[:i], image[i+1:]
	}
	return image, ""
}

func TestImagesArePinned(t *testing.T) {
	p := load(t)
	for name, s := range p.Services {
		image, tag := splitImage(s.Image)
		switch {
		case s.Build != nil:
			// Built from this repository: the tag names the build, it
			// must only never be "latest", which compose would pull.
			if tag == "" || tag == "latest" {
				t.Errorf("%s: built image %q needs an explicit tag", name, s.Image)
			}
		case !explicitTag.MatchString(tag):
			t.Errorf("%s: image %q is not pinned to an explicit version (want name:1.2.3[-variant])", name, s.Image)
		}
		_ = image
	}

	// The compose NATS is the release the binary embeds and the tests run.
	natsVersion := goModVersion(t, "github.com/nats-io/nats-server/v2")
	if _, tag := splitImage(p.Services["nats"].Image); !strings.HasPrefix(tag, strings.TrimPrefix(natsVersion, "v")+"-") && tag != strings.TrimPrefix(natsVersion, "v") {
		t.Errorf("nats image %q, but go.mod embeds nats-server %s", p.Services["nats"].Image, natsVersion)
	}
	if _, tag := splitImage(p.Services["redis"].Image); !strings.HasPrefix(tag, "7.") {
		t.Errorf("redis image %q: want a 7.x release", p.Services["redis"].Image)
	}
}

// goModVersion returns the version go.mod requires of module.
func goModVersion(t *testing.T, module string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && f[0] == module {
			return f[1]
		}
	}
	t.Fatalf("go.mod does not require %s", module)
	return ""
}

// listenPorts returns the ports a service listens on, read from the flags
// and variables that set them: --listen/--admin-listen and the
// CACHEGATE_*LISTEN variables for cachegate, -p/-m for nats, --port for
// redis. Each listen address must bind all interfaces: inside a container,
// 127.0.0.1 is unreachable from the published port.
func listenPorts(t *testing.T, name string, s types.ServiceConfig) map[uint32]string {
	t.Helper()
	ports := map[uint32]string{}
	addr := func(from, hostport string) {
		host, port, err := net.SplitHostPort(hostport)
		if err != nil {
			t.Errorf("%s: %s %q: %v", name, from, hostport, err)
			return
		}
		if host != "0.0.0.0" && host != "" && host != "::" {
			t.Errorf("%s: %s %q listens on %s only: unreachable from outside the container", name, from, hostport, host)
		}
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			t.Errorf("%s: %s %q: bad port", name, from, hostport)
			return
		}
		ports[uint32(n)] = from
	}
	port := func(from, p string) {
		if p != "" {
			addr(from, "0.0.0.0:"+p)
		}
	}
	for _, f := range []string{"--listen", "--admin-listen"} {
		if v := flagValue(s.Command, f); v != "" {
			addr(f, v)
		}
	}
	for _, v := range []string{"CACHEGATE_LISTEN", "CACHEGATE_ADMIN_LISTEN"} {
		if a := env(s, v); a != "" {
			addr(v, a)
		}
	}
	port("-p", flagValue(s.Command, "-p"))
	port("-m", flagValue(s.Command, "-m"))
	port("--port", flagValue(s.Command, "--port"))
	return ports
}

func TestPortsMatchListenAddresses(t *testing.T) {
	p := load(t)
	for name, s := range p.Services {
		listen := listenPorts(t, name, s)
		published := map[uint32]bool{}
		for _, pc := range s.Ports {
			published[pc.Target] = true
			if _, ok := listen[pc.Target]; !ok {
				t.Errorf("%s: publishes container port %d, but listens on %v", name, pc.Target, listen)
			}
			if pc.Published != strconv.Itoa(int(pc.Target)) {
				t.Errorf("%s: container port %d published as %q: keep them equal so the printed URLs hold", name, pc.Target, pc.Published)
			}
			if pc.HostIP != "127.0.0.1" {
				t.Errorf("%s: port %d published on %q: publish on 127.0.0.1 only (no auth on Redis and NATS, a default admin token)", name, pc.Target, pc.HostIP)
			}
		}
		for port, from := range listen {
			if from != "-m" && !published[port] {
				t.Errorf("%s: listens on %d (%s) but does not publish it", name, port, from)
			}
		}
	}
}

// TestServiceAddressesPointAtListeners checks every URL one service uses to
// reach another: the host is a service of the file, listening on that port.
func TestServiceAddressesPointAtListeners(t *testing.T) {
	p := load(t)
	listening := map[string]map[uint32]string{}
	for name, s := range p.Services {
		listening[name] = listenPorts(t, name, s)
	}
	check := func(from, raw, scheme string) {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != scheme {
			t.Errorf("%s: %q is not a %s:// URL", from, raw, scheme)
			return
		}
		port, _ := strconv.ParseUint(u.Port(), 10, 16)
		if _, ok := listening[u.Hostname()][uint32(port)]; !ok {
			t.Errorf("%s: %q: no service %q listening on %s", from, raw, u.Hostname(), u.Port())
		}
	}
	gw := p.Services["cachegate"]
	check("cachegate CACHEGATE_ORIGIN", env(gw, "CACHEGATE_ORIGIN"), "http")
	check("cachegate CACHEGATE_REDIS_URL", env(gw, "CACHEGATE_REDIS_URL"), "redis")
	check("cachegate CACHEGATE_NATS_URL", env(gw, "CACHEGATE_NATS_URL"), "nats")
	check("origin --nats-url", flagValue(p.Services["origin"].Command, "--nats-url"), "nats")
}

func TestDependenciesWaitForHealth(t *testing.T) {
	p := load(t)
	want := map[string][]string{"origin": {"nats"}, "cachegate": {"nats", "redis", "origin"}}
	for name, deps := range want {
		s := p.Services[name]
		for _, d := range deps {
			dep, ok := s.DependsOn[d]
			if !ok || dep.Condition != types.ServiceConditionHealthy {
				t.Errorf("%s: must depend on %s being healthy, has %+v", name, d, s.DependsOn)
			}
		}
	}
	for name, s := range p.Services {
		if s.HealthCheck == nil || len(s.HealthCheck.Test) < 2 {
			t.Errorf("%s: no healthcheck", name)
			continue
		}
		// An HTTP probe must ask a port the service listens on.
		listen := listenPorts(t, name, s)
		for _, arg := range s.HealthCheck.Test {
			if u, err := url.Parse(arg); err == nil && u.Scheme == "http" {
				port, _ := strconv.ParseUint(u.Port(), 10, 16)
				if _, ok := listen[uint32(port)]; !ok {
					t.Errorf("%s: healthcheck probes %s, but the service listens on %v", name, arg, listen)
				}
			}
		}
	}
}

// cmdSources returns the non-test Go sources of cmd/cachegate by file
// name, and fails the test when the serve and origin commands are missing.
func cmdSources(t *testing.T) map[string]string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "cmd", "cachegate")
	_, errServe := os.Stat(filepath.Join(dir, "serve.go"))
	_, errOrigin := os.Stat(filepath.Join(dir, "origin.go"))
	if errors.Is(errServe, os.ErrNotExist) && errors.Is(errOrigin, os.ErrNotExist) {
		t.Fatal("cmd/cachegate has neither serve.go nor origin.go: the compose file's commands and variables cannot be checked against the binary")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	src := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src[filepath.Base(f)] = string(b)
	}
	return src
}

func anyContains(src map[string]string, s string) bool {
	for _, text := range src {
		if strings.Contains(text, s) {
			return true
		}
	}
	return false
}

func TestVariablesAreReadByTheBinary(t *testing.T) {
	p := load(t)
	src := cmdSources(t)
	names := map[string]string{}
	for name, s := range p.Services {
		for v := range s.Environment {
			if strings.HasPrefix(v, "CACHEGATE_") {
				names[v] = "service " + name
			}
		}
	}
	df, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^ENV\s+(CACHEGATE_[A-Z_]+)`).FindAllStringSubmatch(string(df), -1) {
		names[m[1]] = "Dockerfile"
	}
	if len(names) == 0 {
		t.Fatal("no CACHEGATE_* variables found: the compose file should configure cachegate by environment")
	}
	for v, where := range names {
		if !anyContains(src, `"`+v+`"`) {
			t.Errorf("%s sets %s, but no file in cmd/cachegate names it: the binary would ignore it", where, v)
		}
	}
}

func TestCommandsExistInTheBinary(t *testing.T) {
	p := load(t)
	src := cmdSources(t)
	for name, s := range p.Services {
		if s.Build == nil {
			continue // not our binary
		}
		if len(s.Command) == 0 {
			t.Errorf("%s: no command: say which subcommand it runs", name)
			continue
		}
		sub := s.Command[0]
		if _, ok := src[sub+".go"]; !ok {
			t.Errorf("%s: runs %q, but there is no cmd/cachegate/%s.go", name, sub, sub)
		}
		for _, arg := range s.Command[1:] {
			flag, ok := strings.CutPrefix(arg, "--")
			if !ok {
				continue
			}
			flag, _, _ = strings.Cut(flag, "=")
			if !anyContains(src, `"`+flag+`"`) {
				t.Errorf("%s: passes --%s, but no file in cmd/cachegate defines a flag %q", name, flag, flag)
			}
		}
	}
}

func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	goVersion := ""
	for line := range strings.Lines(string(must(os.ReadFile(filepath.Join(root, "go.mod"))))) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok {
			goVersion = v
		}
	}
	parts := strings.SplitN(goVersion, ".", 3)
	if len(parts) < 2 {
		t.Fatalf("go.mod's go line %q", goVersion)
	}
	majorMinor := parts[0] + "." + parts[1]

	froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, found FROM %v", froms)
	}
	sawGo := false
	for _, m := range froms {
		image, tag := splitImage(m[1])
		if tag == "" || tag == "latest" || !strings.ContainsAny(tag, "0123456789") {
			t.Errorf("FROM %s is not pinned to a version", m[1])
		}
		if image == "golang" {
			sawGo = true
			if tag != majorMinor && !strings.HasPrefix(tag, majorMinor+".") && !strings.HasPrefix(tag, majorMinor+"-") {
				t.Errorf("FROM %s, but go.mod says go %s", m[1], goVersion)
			}
		}
	}
	if !sawGo {
		t.Error("no golang builder stage")
	}
	for _, want := range []string{`ENTRYPOINT ["/cachegate"]`, "./cmd/cachegate", "CGO_ENABLED=0"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	users := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(users) == 0 {
		t.Error("the image runs as root: no USER")
	} else if u := users[len(users)-1][1]; u == "root" || u == "0" || strings.HasPrefix(u, "0:") {
		t.Errorf("the image runs as %s", u)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
