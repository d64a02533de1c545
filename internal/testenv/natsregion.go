package testenv

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// RegionLinkDeny is what a leaf node link between two regions must not
// carry: cachegate's core subjects (L1 broadcasts and their acks, applied
// notifications, event and purge-queue publishes). Across the link each
// region's streams would capture the other's publishes, its waiters would
// take the other region's applied notification for their own, and its
// coordinators would hear the other's instances. The server itself keeps
// each domain's JetStream API and KV subjects apart; events cross only by
// stream sourcing.
var RegionLinkDeny = []string{"cachegate.>"}

// StartNATSRegion starts bin (from BuildNATSServer) as the NATS of one
// region: JetStream in its own domain (domain, which cachegate's
// nats.region names), a client port requiring user and password, and a
// leaf node listener for other regions (LeafAddr) accepting the same
// credentials. With hub set (host:port of another region's leaf node
// listener, or of something in between), it also connects to it as a leaf
// node, denying RegionLinkDeny both ways. It stops when t ends.
func StartNATSRegion(t testing.TB, bin, domain, user, password, hub string) *NATSProcess {
	t.Helper()
	dir := t.TempDir()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		port, leafPort := FreePort(t), FreePort(t)
		n := &NATSProcess{t: t, bin: bin}
		n.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		n.LeafAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(leafPort))
		n.URL = (&url.URL{Scheme: "nats", User: url.UserPassword(user, password), Host: n.Addr}).String()
		conf := filepath.Join(dir, "nats.conf")
		if err := os.WriteFile(conf, []byte(regionConf(domain, dir, port, leafPort, user, password, hub)), 0o600); err != nil {
			t.Fatal(err)
		}
		n.args = []string{"-c", conf}
		if err = n.start(); err == nil {
			t.Cleanup(n.Stop)
			return n
		}
	}
	t.Fatalf("nats-server of region %s: %v", domain, err)
	return nil
}

// regionConf is the server's configuration file: what an operator writes
// for each region (docs/scaling.md shows the same).
func regionConf(domain, dir string, port, leafPort int, user, password, hub string) string {
	conf := fmt.Sprintf(`server_name: %[1]s
listen: 127.0.0.1:%[2]d
jetstream { domain: %[1]s, store_dir: %[3]q }
authorization { user: %[4]q, password: %[5]q }
leafnodes {
  listen: 127.0.0.1:%[6]d
  # A remote would otherwise learn this address and reconnect to it
  # directly, around whatever the test put in between to cut the link.
  no_advertise: true
  authorization { user: %[4]q, password: %[5]q }
`, domain, port, filepath.Join(dir, "js"), user, password, leafPort)
	if hub != "" {
		leaf := (&url.URL{Scheme: "nats-leaf", User: url.UserPassword(user, password), Host: hub}).String()
		deny := fmt.Sprintf("%q", RegionLinkDeny)
		conf += fmt.Sprintf(`  reconnect: "1s"
  remotes [ { url: %q, deny_imports: %s, deny_exports: %s } ]
`, leaf, deny, deny)
	}
	return conf + "}\n"
}
