package compose_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dockerfileFacts are what the image says about its user and data dir.
type dockerfileFacts struct {
	user, dataDir string
	volumes       []string
}

func readDockerfile(t *testing.T) dockerfileFacts {
	t.Helper()
	df := string(must(os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))))
	var f dockerfileFacts
	if m := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(df, -1); len(m) > 0 {
		f.user = m[len(m)-1][1]
	}
	if m := regexp.MustCompile(`(?m)^ENV\s+CACHEGATE_DATA_DIR=(\S+)`).FindStringSubmatch(df); m != nil {
		f.dataDir = m[1]
	}
	for _, m := range regexp.MustCompile(`(?m)^VOLUME\s+\[(.*)\]`).FindAllStringSubmatch(df, -1) {
		for _, v := range strings.Split(m[1], ",") {
			f.volumes = append(f.volumes, strings.Trim(strings.TrimSpace(v), `"`))
		}
	}
	return f
}

// TestReadOnlyRootFilesystem: the image runs as a numeric non-root user
// and declares its data dir a volume; every compose service built from it
// runs as that user with a read-only root filesystem, /tmp on tmpfs, and
// the gateway's data dir on a volume.
func TestReadOnlyRootFilesystem(t *testing.T) {
	f := readDockerfile(t)
	if !regexp.MustCompile(`^[1-9][0-9]*:[1-9][0-9]*$`).MatchString(f.user) {
		t.Errorf("Dockerfile USER %q: want a numeric non-root uid:gid (Kubernetes' runAsNonRoot checks numbers)", f.user)
	}
	if f.dataDir == "" || !strings.HasPrefix(f.dataDir, "/") {
		t.Fatalf("Dockerfile: no absolute ENV CACHEGATE_DATA_DIR (%q)", f.dataDir)
	}
	found := false
	for _, v := range f.volumes {
		found = found || v == f.dataDir
	}
	if !found {
		t.Errorf("Dockerfile: VOLUME %v does not hold the data dir %s", f.volumes, f.dataDir)
	}

	p := load(t)
	ours := 0
	for name, s := range p.Services {
		if s.Image != "cachegate:dev" {
			continue
		}
		ours++
		if !s.ReadOnly {
			t.Errorf("%s: read_only is not true", name)
		}
		if s.User != f.user {
			t.Errorf("%s: user %q, want the Dockerfile's %q", name, s.User, f.user)
		}
		if !slices.Contains(s.Tmpfs, "/tmp") {
			t.Errorf("%s: tmpfs %v, want /tmp", name, s.Tmpfs)
		}
		if s.Command[0] != "serve" {
			continue
		}
		dataDir := f.dataDir
		if v, ok := s.Environment["CACHEGATE_DATA_DIR"]; ok && v != nil {
			dataDir = *v
		}
		mounted := false
		for _, v := range s.Volumes {
			mounted = mounted || v.Target == dataDir
		}
		if !mounted {
			t.Errorf("%s: no volume at its data dir %s: a read-only container could not write there", name, dataDir)
		}
	}
	if ours < 2 {
		t.Errorf("only %d services built from the image", ours)
	}
}
