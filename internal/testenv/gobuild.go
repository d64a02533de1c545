package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// GoBuild builds the main packages pkgs (import paths, resolved from the
// test's module) into a new temporary directory with one `go build`, and
// returns that directory: each binary is named after its package, without
// a major-version suffix (github.com/nats-io/nats-server/v2 → nats-server).
// Tests that run real processes build them once per test this way; Go's
// build cache makes the build after the first one cheap.
func GoBuild(t testing.TB, pkgs ...string) string {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)
	cmd := exec.Command(goTool(t), args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
	return dir
}

// goTool is the go command running this test's toolchain: the one on PATH,
// else the one in the GOROOT the test binary was built with.
func goTool(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	//lint:ignore SA1019 the fallback for a PATH without go
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the go command is not on PATH (and not at %s)", p)
	}
	return p
}

// GoSource is the text of the non-test Go files in dir, for tests that
// hold a deployment file to what the code reads (flags, variables).
func GoSource(t testing.TB, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	var b strings.Builder
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(src)
	}
	return b.String()
}
