package esi

import (
	"bytes"
	"hash/maphash"
	"sync/atomic"
)

// docSlots is the size of a Docs table; MaxDocBytes the largest document
// it keeps, so it holds at most docSlots*MaxDocBytes bytes (16 MiB).
const (
	docSlots    = 256
	MaxDocBytes = 64 << 10
)

// Docs remembers parsed documents by their content, so a shell served
// from a cache over and over is parsed once: a fixed, direct-mapped table
// (a newer document takes an older one's slot), lock-free, bounded in
// bytes. Its zero value is not usable; call NewDocs.
type Docs struct {
	seed  maphash.Seed
	slots [docSlots]atomic.Pointer[doc]
}

type doc struct {
	body  []byte // the table's own copy: nodes slice it
	nodes []Node
}

// NewDocs returns an empty table.
func NewDocs() *Docs { return &Docs{seed: maphash.MakeSeed()} }

// Parse is Parse(b), from the table when b was parsed before. The nodes
// never refer to b.
func (d *Docs) Parse(b []byte) ([]Node, error) {
	if d == nil || len(b) > MaxDocBytes {
		return Parse(bytes.Clone(b))
	}
	slot := &d.slots[maphash.Bytes(d.seed, b)%docSlots]
	if p := slot.Load(); p != nil && bytes.Equal(p.body, b) {
		return p.nodes, nil
	}
	body := bytes.Clone(b)
	nodes, err := Parse(body)
	if err != nil {
		return nil, err
	}
	slot.Store(&doc{body: body, nodes: nodes})
	return nodes, nil
}
