package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cachegate/cachegate/invalidation"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

// Schema limits.
const (
	// Version is the major version of the event schema this package writes
	// and reads. An event without "version" is read as version 1.
	Version = 1
	// MaxEventSize bounds the JSON body of one event.
	MaxEventSize = 64 << 10
	// MaxIDLength bounds an event id, which travels as the Nats-Msg-Id.
	MaxIDLength = 128
	// MaxNameLength bounds type, entity and key.
	MaxNameLength = 256
	// TypePurge is the type of the admin purges that travel the event path.
	TypePurge = "purge"
)

// Subjects.
const (
	// SubjectPrefix starts the subject of every event:
	// cachegate.events.<tenant>.<entity>.
	SubjectPrefix = "cachegate.events."
)

// ErrInvalidEvent is wrapped by every error about an event's content.
var ErrInvalidEvent = errors.New("invalid event")

// Event is a change event: what changed in which tenant's data. The
// coordinator turns it into an invalidation.Request through a Mapper.
type Event struct {
	// Version of the schema; 0 means Version.
	Version int `json:"version,omitempty"`
	// ID identifies the event end to end; it is the Nats-Msg-Id, so a
	// re-published event is processed once. The Publisher generates one
	// when empty.
	ID     string `json:"id,omitempty"`
	Tenant string `json:"tenant"`
	// Type names what happened, e.g. "company.updated"; mapping rules are
	// chosen by it.
	Type string `json:"type,omitempty"`
	// Entity and Key name the changed thing; by default the event
	// invalidates the tags "<entity>:<key>" and "<entity>".
	Entity string `json:"entity,omitempty"`
	Key    string `json:"key,omitempty"`
	// Tags are invalidated in addition to the mapped ones.
	Tags []string `json:"tags,omitempty"`
	// Data is the app's payload (a JSON object); templates read it.
	Data       json.RawMessage `json:"data,omitempty"`
	OccurredAt time.Time       `json:"occurred_at,omitzero"`
	// URLs, Prefixes and Everything are used by admin purges, which travel
	// the same path as events.
	URLs       []string `json:"urls,omitempty"`
	Prefixes   []string `json:"prefixes,omitempty"`
	Everything bool     `json:"everything,omitempty"`
	// Soft makes what the event invalidates stale instead of gone
	// (invalidation.Request.Soft); the default is a hard invalidation.
	Soft bool `json:"soft,omitempty"`
}

// EventError is an event's content error; errors.Is(err, ErrInvalidEvent)
// holds for it.
type EventError struct {
	Field  string // the JSON field at fault, "" for the whole body
	Reason string
}

func (e *EventError) Error() string {
	if e.Field == "" {
		return "invalid event: " + e.Reason
	}
	return "invalid event: " + e.Field + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalidEvent) true.
func (e *EventError) Is(target error) bool { return target == ErrInvalidEvent }

func invalid(field, format string, args ...any) error {
	return &EventError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// reason strips the invalidation package's prefix so messages read once.
func reason(err error) string {
	return strings.TrimPrefix(err.Error(), invalidation.ErrInvalid.Error()+": ")
}

// ParseEvent decodes and validates one event body. Unknown fields are
// ignored, as the contract says.
func ParseEvent(b []byte) (Event, error) {
	var e Event
	if len(b) > MaxEventSize {
		return e, invalid("", "body of %d bytes exceeds %d bytes", len(b), MaxEventSize)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return e, invalid("", "empty body")
	}
	if !utf8.Valid(b) {
		return e, invalid("", "body is not valid UTF-8")
	}
	if err := json.Unmarshal(b, &e); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return Event{}, invalid("", "not valid JSON at offset %d: %v", se.Offset, se)
		case errors.As(err, &te) && te.Field == "":
			return Event{}, invalid("", "must be a JSON object, got %s", te.Value)
		case errors.As(err, &te):
			return Event{}, invalid(te.Field, "got a JSON %s, want %s", te.Value, jsonKind(te.Type.String()))
		default:
			return Event{}, invalid("", "%v", err)
		}
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

func jsonKind(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "an array of strings"
	case goType == "bool":
		return "a boolean"
	case goType == "int":
		return "an integer"
	case goType == "time.Time":
		return "an RFC 3339 time"
	default:
		return goType
	}
}

// Validate reports the first thing wrong with e (an id is not required
// here: the Publisher generates one and the coordinator falls back to the
// message id).
func (e Event) Validate() error {
	if e.Version < 0 || e.Version > Version {
		return invalid("version", "unsupported major version %d (this build reads version %d)", e.Version, Version)
	}
	if e.ID != "" {
		if err := checkName(e.ID, MaxIDLength); err != nil {
			return invalid("id", "%v", err)
		}
	}
	if err := invalidation.ValidateTenant(e.Tenant); err != nil {
		return invalid("tenant", "%s", reason(err))
	}
	for _, f := range []struct{ name, v string }{{"type", e.Type}, {"entity", e.Entity}, {"key", e.Key}} {
		if f.v == "" {
			continue
		}
		if err := checkName(f.v, MaxNameLength); err != nil {
			return invalid(f.name, "%v", err)
		}
	}
	if e.Key != "" && e.Entity == "" {
		return invalid("key", "a key needs an entity")
	}
	hasTarget := e.Entity != "" && e.Key != "" || len(e.Tags) > 0 || len(e.URLs) > 0 || len(e.Prefixes) > 0 || e.Everything
	if !hasTarget {
		if e.Entity != "" {
			return invalid("key", "entity %q needs a key, or name tags", e.Entity)
		}
		return invalid("", "name entity and key, or non-empty tags")
	}
	if n := len(e.Tags) + len(e.URLs) + len(e.Prefixes); n > invalidation.MaxItems {
		return invalid("", "%d tags, urls and prefixes, at most %d", n, invalidation.MaxItems)
	}
	for i, t := range e.Tags {
		if err := invalidation.ValidateTag(t); err != nil {
			return invalid(fmt.Sprintf("tags[%d]", i), "%s", reason(err))
		}
	}
	if e.Entity != "" && e.Key != "" {
		if err := invalidation.ValidateTag(e.Entity + ":" + e.Key); err != nil {
			return invalid("key", "default tag: %s", reason(err))
		}
	}
	for _, l := range []struct {
		name string
		vs   []string
	}{{"urls", e.URLs}, {"prefixes", e.Prefixes}} {
		for i, v := range l.vs {
			if !strings.HasPrefix(v, "/") {
				return invalid(fmt.Sprintf("%s[%d]", l.name, i), "%q must be a path starting with /", v)
			}
			if err := checkName(v, invalidation.MaxTagLength); err != nil {
				return invalid(fmt.Sprintf("%s[%d]", l.name, i), "%v (percent-encode it)", err)
			}
		}
	}
	if d := bytes.TrimSpace(e.Data); len(d) > 0 && d[0] != '{' && !bytes.Equal(d, []byte("null")) {
		return invalid("data", "must be a JSON object")
	}
	return nil
}

// checkName accepts 1 to max printable ASCII characters without spaces:
// what can travel in a NATS header and a tag.
func checkName(s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("longer than %d characters", max)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("%q: only printable ASCII without spaces", s)
		}
	}
	return nil
}

// Marshal encodes e as the body of a message, without HTML escaping so that
// the body stays as small as what was parsed.
func (e Event) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, fmt.Errorf("events: encode event: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// Msg is e as a message for JetStream, for a caller that publishes it
// itself (asynchronously, many at a time): its subject, its JSON body and
// its ID as the Nats-Msg-Id, so a message published twice is stored once.
// A new ID is given when e has none.
func (e Event) Msg() (*nats.Msg, error) {
	if e.ID == "" {
		e.ID = NewID()
	}
	body, err := e.Marshal()
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg(e.Subject())
	m.Data = body
	m.Header.Set(nats.MsgIdHdr, e.ID)
	return m, nil
}

// Subject is where e is published: cachegate.events.<tenant>.<entity>, with
// "purge" for admin purges and "_" for tag-only events. Tokens are
// sanitized (a tenant may contain '.'), so the subject is for routing and
// filtering only; the body is the truth.
func (e Event) Subject() string {
	entity := e.Entity
	if entity == "" {
		entity = "_"
		if e.Type == TypePurge || len(e.URLs) > 0 || len(e.Prefixes) > 0 || e.Everything {
			entity = "purge"
		}
	}
	return SubjectPrefix + token(e.Tenant) + "." + token(entity)
}

// subjectTenant is the tenant token of an event subject, local or sourced
// from another region, "" if subject is not one.
func subjectTenant(subject string) string {
	_, rest, ok := splitSubject(subject)
	if !ok {
		return ""
	}
	tenant, _, _ := strings.Cut(rest, ".")
	return tenant
}

// token turns s into one subject token: anything but [A-Za-z0-9_-]
// (including '.', '*', '>' and spaces) becomes '_'.
func token(s string) string {
	if s == "" {
		return "_"
	}
	b := []byte(s)
	for i, c := range b {
		if !safeChar(c) {
			b[i] = '_'
		}
	}
	return string(b)
}

func safeChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// NewID returns a fresh event id (a NUID: 22 characters, unique without
// coordination).
func NewID() string { return nuid.Next() }

// idToken maps an event id to a string that is both a subject token and a
// KV key: the id itself when it is made of safe characters, else "=" and a
// hash ('=' is not a safe character, so the two forms never collide).
func idToken(id string) string {
	ok := id != "" && len(id) <= 64
	for i := 0; ok && i < len(id); i++ {
		ok = safeChar(id[i])
	}
	if ok {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "=" + hex.EncodeToString(sum[:16])
}
