package testenv

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSCluster is a cluster of standalone nats-server processes with
// JetStream, routed to each other on loopback, each requiring the same
// user and password.
type NATSCluster struct {
	// URL lists every server's client URL, comma-separated, with the
	// credentials: what a client connects with.
	URL string
	// Servers are the processes, named n0, n1, ... in JetStream.
	Servers []*NATSProcess
}

// StartNATSCluster starts n servers of bin (from BuildNATSServer) as one
// cluster and returns once every one of them answers JetStream and the
// cluster places a stream on all n (every peer is known online). They
// stop when t ends.
func StartNATSCluster(t testing.TB, bin string, n int, user, password string) *NATSCluster {
	t.Helper()
	c := &NATSCluster{}
	routes := make([]string, n)
	ports := make([]int, n)
	for i := range n {
		ports[i] = FreePort(t)
		routes[i] = "nats://127.0.0.1:" + strconv.Itoa(FreePort(t))
	}
	var urls []string
	for i := range n {
		p := &NATSProcess{t: t, bin: bin}
		p.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[i]))
		p.URL = (&url.URL{Scheme: "nats", User: url.UserPassword(user, password), Host: p.Addr}).String()
		p.args = []string{"-a", "127.0.0.1", "-p", strconv.Itoa(ports[i]), "-js", "-sd", t.TempDir(),
			"--user", user, "--pass", password, "-n", fmt.Sprint("n", i),
			"--cluster_name", "cachegate", "--cluster", routes[i], "--routes", strings.Join(routes, ",")}
		// Started together: a new cluster elects its meta leader only
		// once every configured peer runs.
		cmd, done, out, err := startProcess(bin, p.args...)
		if err != nil {
			t.Fatalf("nats-server n%d: %v", i, err)
		}
		p.cmd, p.done, p.out = cmd, done, out
		t.Cleanup(p.Stop)
		c.Servers = append(c.Servers, p)
		urls = append(urls, p.URL)
	}
	c.URL = strings.Join(urls, ",")
	for _, p := range c.Servers {
		if err := Poll(60*time.Second, p.jetStreamReady); err != nil {
			t.Fatalf("nats-server cluster: %v; output: %s", err, p.Output())
		}
	}
	WaitFor(t, 60*time.Second, c.placesOnAll)
	return c
}

// placesOnAll creates and deletes a memory stream with one replica per
// server: the meta leader answers "ready" before it has seen every peer.
func (c *NATSCluster) placesOnAll() error {
	return c.withJetStream(5*time.Second, func(ctx context.Context, js jetstream.JetStream) error {
		return placeProbe(ctx, js, len(c.Servers))
	})
}

// withJetStream runs f on a fresh connection to any server of the
// cluster, within timeout.
func (c *NATSCluster) withJetStream(timeout time.Duration, f func(context.Context, jetstream.JetStream) error) error {
	nc, err := nats.Connect(c.URL, nats.Timeout(time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return f(ctx, js)
}

func placeProbe(ctx context.Context, js jetstream.JetStream, replicas int) error {
	const probe = "TESTENV_PLACEMENT_PROBE"
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: probe, Subjects: []string{"testenv.probe"},
		Replicas: replicas, Storage: jetstream.MemoryStorage}); err != nil {
		return fmt.Errorf("placing a stream on all %d servers: %w", replicas, err)
	}
	return js.DeleteStream(ctx, probe)
}

// Kill kills the server with SIGKILL: a crash, nothing flushed.
func (n *NATSProcess) Kill() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	<-n.done
	n.cmd = nil
}

// StreamLeader returns the index of the server leading stream.
func (c *NATSCluster) StreamLeader(t testing.TB, stream string) int {
	t.Helper()
	var leader int
	WaitFor(t, 30*time.Second, func() error {
		return c.withJetStream(2*time.Second, func(ctx context.Context, js jetstream.JetStream) error {
			s, err := js.Stream(ctx, stream)
			if err != nil {
				return err
			}
			info, err := s.Info(ctx)
			if err != nil {
				return err
			}
			if info.Cluster == nil || info.Cluster.Leader == "" {
				return fmt.Errorf("stream %s has no leader", stream)
			}
			if _, err := fmt.Sscanf(info.Cluster.Leader, "n%d", &leader); err != nil || leader >= len(c.Servers) {
				return fmt.Errorf("leader %q is not one of the servers", info.Cluster.Leader)
			}
			return nil
		})
	})
	return leader
}
