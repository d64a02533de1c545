package memcachestore

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"net"
	"slices"

	"github.com/bradfitz/gomemcache/memcache"
)

// ring is a ketama consistent-hash ServerSelector: each server owns 160
// points of a 32-bit circle (four per MD5 of "host:port-i", as libketama
// places them, so other ketama clients pick the same server for a key), and
// a key belongs to the first point at or after its hash. Adding or removing
// one of n servers moves about 1/n of the keys; gomemcache's ServerList
// (CRC32 modulo n) would move nearly all of them, and with them the
// generation records, whose loss invalidates (safely, but as a cold cache).
type ring struct {
	points []uint32
	owner  []net.Addr // owner[i] owns points[i]
	addrs  []net.Addr
}

var _ memcache.ServerSelector = (*ring)(nil)

const pointsPerServer = 160

func newRing(servers []string) (*ring, error) {
	r := &ring{}
	type point struct {
		h    uint32
		addr net.Addr
	}
	var pts []point
	for _, s := range servers {
		a, err := net.ResolveTCPAddr("tcp", s)
		if err != nil {
			return nil, fmt.Errorf("memcachestore: server %q: %w", s, err)
		}
		r.addrs = append(r.addrs, a)
		for i := range pointsPerServer / 4 {
			d := md5.Sum(fmt.Appendf(nil, "%s-%d", s, i))
			for j := range 4 {
				pts = append(pts, point{binary.LittleEndian.Uint32(d[4*j:]), a})
			}
		}
	}
	slices.SortStableFunc(pts, func(a, b point) int {
		switch {
		case a.h < b.h:
			return -1
		case a.h > b.h:
			return 1
		}
		return 0
	})
	for _, p := range pts {
		r.points = append(r.points, p.h)
		r.owner = append(r.owner, p.addr)
	}
	return r, nil
}

// PickServer returns the server owning key.
func (r *ring) PickServer(key string) (net.Addr, error) {
	if len(r.addrs) == 0 {
		return nil, memcache.ErrNoServers
	}
	if len(r.addrs) == 1 {
		return r.addrs[0], nil
	}
	d := md5.Sum([]byte(key))
	h := binary.LittleEndian.Uint32(d[:4])
	i, _ := slices.BinarySearch(r.points, h)
	if i == len(r.points) {
		i = 0
	}
	return r.owner[i], nil
}

// Each calls f for every server.
func (r *ring) Each(f func(net.Addr) error) error {
	for _, a := range r.addrs {
		if err := f(a); err != nil {
			return err
		}
	}
	return nil
}
