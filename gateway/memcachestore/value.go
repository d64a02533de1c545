package memcachestore

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/gateway/entrycodec"
)

// An entry's value: magic 'm', version 1, the deadline (uvarint Unix
// milliseconds), the tenant and the key (each uvarint length and bytes),
// then the entry in gateway/entrycodec's encoding (FetchGen and tags
// included).
const (
	valueMagic   = 'm'
	valueVersion = 1
)

var (
	errNotOurs = errors.New("entry of another tenant or key (hash collision)")
	errExpired = errors.New("entry expired")
	errValue   = errors.New("damaged entry value")
)

func (s *Store) encode(tenant, key string, e *gateway.Entry, deadline time.Time) []byte {
	blob := entrycodec.Encode(e)
	b := make([]byte, 0, len(blob)+len(tenant)+len(key)+2+3*binary.MaxVarintLen64)
	b = append(b, valueMagic, valueVersion)
	b = binary.AppendUvarint(b, uint64(deadline.UnixMilli()))
	b = binary.AppendUvarint(b, uint64(len(tenant)))
	b = append(b, tenant...)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	return append(b, blob...)
}

func (s *Store) decode(b []byte, tenant, key string) (*gateway.Entry, error) {
	if len(b) < 2 || b[0] != valueMagic || b[1] != valueVersion {
		return nil, errValue
	}
	b = b[2:]
	deadline, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, errValue
	}
	b = b[n:]
	for _, want := range []string{tenant, key} {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return nil, errValue
		}
		if string(b[n:n+int(l)]) != want {
			return nil, errNotOurs
		}
		b = b[n+int(l):]
	}
	if s.now().UnixMilli() >= int64(deadline) {
		return nil, errExpired
	}
	return entrycodec.Decode(b)
}
