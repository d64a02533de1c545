package ensure

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// attempts bounds the re-reads after losing a race to a concurrent create
// or delete; each round makes progress unless others keep changing the
// resource.
const attempts = 5

// Stream makes the stream named want.Name exist with want's fields.
func Stream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig) (jetstream.Stream, error) {
	return declare(ctx, resource[jetstream.Stream, jetstream.StreamConfig]{
		what:   "stream " + want.Name,
		get:    func(ctx context.Context) (jetstream.Stream, error) { return js.Stream(ctx, want.Name) },
		create: js.CreateStream,
		update: js.UpdateStream,
		config: func(_ context.Context, s jetstream.Stream) (jetstream.StreamConfig, error) {
			return s.CachedInfo().Config, nil
		},
		missing: []error{jetstream.ErrStreamNotFound},
		exists:  jetstream.ErrStreamNameAlreadyInUse,
	}, want)
}

// KeyValue makes the bucket named want.Bucket exist with want's fields.
func KeyValue(ctx context.Context, js jetstream.JetStream, want jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return declare(ctx, resource[jetstream.KeyValue, jetstream.KeyValueConfig]{
		what:   "bucket " + want.Bucket,
		get:    func(ctx context.Context) (jetstream.KeyValue, error) { return js.KeyValue(ctx, want.Bucket) },
		create: js.CreateKeyValue,
		update: js.UpdateKeyValue,
		config: func(ctx context.Context, kv jetstream.KeyValue) (jetstream.KeyValueConfig, error) {
			st, err := kv.Status(ctx)
			if err != nil {
				return jetstream.KeyValueConfig{}, err
			}
			bs, ok := st.(*jetstream.KeyValueBucketStatus)
			if !ok {
				return jetstream.KeyValueConfig{}, fmt.Errorf("unexpected status type %T", st)
			}
			return bs.Config(), nil
		},
		missing: []error{jetstream.ErrBucketNotFound, jetstream.ErrStreamNotFound},
		exists:  jetstream.ErrBucketExists,
	}, want)
}

// Consumer makes the durable consumer want.Durable exist on stream with
// want's fields.
func Consumer(ctx context.Context, js jetstream.JetStream, stream string, want jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	if want.Durable == "" {
		return nil, errors.New("ensure: a consumer needs a durable name")
	}
	return declare(ctx, resource[jetstream.Consumer, jetstream.ConsumerConfig]{
		what: "consumer " + want.Durable + " on " + stream,
		get:  func(ctx context.Context) (jetstream.Consumer, error) { return js.Consumer(ctx, stream, want.Durable) },
		create: func(ctx context.Context, c jetstream.ConsumerConfig) (jetstream.Consumer, error) {
			return js.CreateConsumer(ctx, stream, c)
		},
		update: func(ctx context.Context, c jetstream.ConsumerConfig) (jetstream.Consumer, error) {
			// One filter form replaces the other: the server refuses a
			// consumer with both, and the overlay keeps the current one.
			switch {
			case len(want.FilterSubjects) > 0:
				c.FilterSubject = ""
			case want.FilterSubject != "":
				c.FilterSubjects = nil
			}
			return js.UpdateConsumer(ctx, stream, c)
		},
		config: func(_ context.Context, c jetstream.Consumer) (jetstream.ConsumerConfig, error) {
			return c.CachedInfo().Config, nil
		},
		missing: []error{jetstream.ErrConsumerNotFound, jetstream.ErrConsumerDoesNotExist},
		exists:  jetstream.ErrConsumerExists,
	}, want)
}

// resource is how one kind of JetStream resource is read, created and
// updated.
type resource[R, C any] struct {
	what           string
	get            func(context.Context) (R, error)
	create, update func(context.Context, C) (R, error)
	config         func(context.Context, R) (C, error)
	// missing: the resource is not there (or was deleted meanwhile);
	// exists: a create lost to a concurrent one with another config.
	missing []error
	exists  error
}

func (r resource[R, C]) isMissing(err error) bool {
	for _, m := range r.missing {
		if errors.Is(err, m) {
			return true
		}
	}
	return false
}

// declare reads, then creates or updates only on a real difference. A
// cluster still forming (or electing) answers for a while that it has no
// peers for placement or is not available; that is waited out, up to
// settleTimeout and ctx, instead of failing the process that started
// beside it.
func declare[R, C any](ctx context.Context, r resource[R, C], want C) (R, error) {
	return Settled(ctx, func(ctx context.Context) (R, error) { return declareOnce(ctx, r, want) })
}

// Settled calls f until it succeeds or fails with something other than a
// JetStream cluster that cannot place or answer yet, for up to
// settleTimeout and ctx: for reads that precede a declaration.
func Settled[R any](ctx context.Context, f func(context.Context) (R, error)) (R, error) {
	var zero R
	deadline := time.Now().Add(settleTimeout)
	wait := 50 * time.Millisecond
	for {
		got, err := f(ctx)
		if err == nil || !transient(err) || time.Now().After(deadline) {
			return got, err
		}
		select {
		case <-ctx.Done():
			return zero, fmt.Errorf("%w (waiting for the JetStream cluster: %w)", err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// settleTimeout bounds the wait for a forming cluster: long enough for
// servers started together to elect their meta leader and see every
// peer, short enough that a cluster that will not form is reported.
const settleTimeout = time.Minute

// transient reports whether err says the JetStream cluster cannot place
// or answer yet, not that the request is wrong.
func transient(err error) bool {
	var api *jetstream.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode {
		case jsClusterNoPeers, jsClusterNotAvailable, jsClusterNotLeader:
			return true
		}
	}
	return false
}

// The server's error codes for a cluster not ready (nats.go names no
// constants for them).
const (
	jsClusterNoPeers      jetstream.ErrorCode = 10005 // no suitable peers for placement
	jsClusterNotAvailable jetstream.ErrorCode = 10008 // JetStream system temporarily unavailable
	jsClusterNotLeader    jetstream.ErrorCode = 10009 // cluster can not handle request
)

func declareOnce[R, C any](ctx context.Context, r resource[R, C], want C) (R, error) {
	var zero R
	for range attempts {
		cur, err := r.get(ctx)
		if r.isMissing(err) {
			created, err := r.create(ctx, want)
			if errors.Is(err, r.exists) {
				continue // created meanwhile with another config: compare it
			}
			if err != nil {
				return zero, fmt.Errorf("ensure: create %s: %w", r.what, err)
			}
			return created, nil
		}
		if err != nil {
			return zero, fmt.Errorf("ensure: read %s: %w", r.what, err)
		}
		have, err := r.config(ctx, cur)
		if err != nil {
			return zero, fmt.Errorf("ensure: read %s: %w", r.what, err)
		}
		if !Differs(want, have) {
			return cur, nil
		}
		updated, err := r.update(ctx, overlay(have, want))
		if r.isMissing(err) {
			continue // deleted meanwhile
		}
		if err != nil {
			return zero, fmt.Errorf("ensure: update %s: %w", r.what, err)
		}
		return updated, nil
	}
	return zero, fmt.Errorf("ensure: %s kept changing under %d attempts", r.what, attempts)
}

// Differs reports whether a field set in want (non-zero) has another value
// in cur. Maps are compared on want's keys only: the server adds its own
// metadata.
func Differs[T any](want, cur T) bool {
	w, c := reflect.ValueOf(want), reflect.ValueOf(cur)
	for i := range w.NumField() {
		wf, cf := w.Field(i), c.Field(i)
		if !w.Type().Field(i).IsExported() || wf.IsZero() {
			continue
		}
		if wf.Kind() == reflect.Map {
			for _, k := range wf.MapKeys() {
				cv := cf.MapIndex(k)
				if !cv.IsValid() || !reflect.DeepEqual(wf.MapIndex(k).Interface(), cv.Interface()) {
					return true
				}
			}
			continue
		}
		if !reflect.DeepEqual(wf.Interface(), cf.Interface()) {
			return true
		}
	}
	return false
}

// overlay is cur with the fields set in want.
func overlay[T any](cur, want T) T {
	out := cur
	o, w := reflect.ValueOf(&out).Elem(), reflect.ValueOf(want)
	for i := range w.NumField() {
		if w.Type().Field(i).IsExported() && !w.Field(i).IsZero() {
			if w.Field(i).Kind() == reflect.Map && !o.Field(i).IsNil() {
				m := reflect.MakeMap(o.Field(i).Type())
				for _, k := range o.Field(i).MapKeys() {
					m.SetMapIndex(k, o.Field(i).MapIndex(k))
				}
				for _, k := range w.Field(i).MapKeys() {
					m.SetMapIndex(k, w.Field(i).MapIndex(k))
				}
				o.Field(i).Set(m)
				continue
			}
			o.Field(i).Set(w.Field(i))
		}
	}
	return out
}
