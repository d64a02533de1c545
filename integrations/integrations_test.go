package integrations_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testenv"
)

// debianPython is Debian's interpreter: python3-django installs into its
// dist-packages, which another python3 on PATH (e.g. pyenv's) does not see.
const debianPython = "/usr/bin/python3"

// suiteTimeout bounds one suite; both run in well under it.
const suiteTimeout = 2 * time.Minute

func TestDjango(t *testing.T) {
	if err := exec.Command(debianPython, "-c", "import django").Run(); err != nil {
		t.Fatalf("Django is not importable by %s (%v): install Debian's python3-django (make deps does)", debianPython, err)
	}
	bin := filepath.Join(testenv.GoBuild(t, "github.com/cachegate/cachegate/cmd/cachegate"), "cachegate")
	run(t, "django", bin, debianPython, "-m", "unittest", "discover", "-s", "tests", "-v")
}

func TestNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH: install Debian's nodejs (make deps does)")
	}
	bin := filepath.Join(testenv.GoBuild(t, "github.com/cachegate/cachegate/cmd/cachegate"), "cachegate")
	run(t, "node", bin, node, "--test", "tests/")
}

// debianNodeModules is where Debian's node-* packages (node-express)
// install; Node does not search it unless NODE_PATH says so.
const debianNodeModules = "/usr/share/nodejs"

// run runs a suite in dir with CACHEGATE_BIN set, failing with its output.
func run(t *testing.T, dir, bin, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	nodePath := debianNodeModules
	if p := os.Getenv("NODE_PATH"); p != "" {
		nodePath = p + string(os.PathListSeparator) + nodePath
	}
	cmd.Env = append(os.Environ(), "CACHEGATE_BIN="+bin, "NODE_PATH="+nodePath)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s suite failed: %v\n%s", dir, err, out)
	}
	if testing.Verbose() {
		t.Logf("%s suite:\n%s", dir, out)
	}
}
