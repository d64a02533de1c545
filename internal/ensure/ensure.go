package ensure

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/nats-io/nats.go/jetstream"
)

// attempts bounds the re-reads after losing a race to a concurrent create
// or delete; each round makes progress unless others keep changing the
// resource.
const attempts = 5

// Stream makes the stream named want.Name exist with want's fields.
func Stream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig) (jetstream.Stream, error) {
	for range attempts {
		s, err := js.Stream(ctx, want.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			s, err = js.CreateStream(ctx, want)
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				continue // created meanwhile with another config: compare it
			}
			return s, err
		}
		if err != nil {
			return nil, err
		}
		cur := s.CachedInfo().Config
		if !Differs(want, cur) {
			return s, nil
		}
		s, err = js.UpdateStream(ctx, overlay(cur, want))
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue // deleted meanwhile
		}
		return s, err
	}
	return nil, fmt.Errorf("ensure: stream %s kept changing under %d attempts", want.Name, attempts)
}

// KeyValue makes the bucket named want.Bucket exist with want's fields.
func KeyValue(ctx context.Context, js jetstream.JetStream, want jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	for range attempts {
		kv, err := js.KeyValue(ctx, want.Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			kv, err = js.CreateKeyValue(ctx, want)
			if errors.Is(err, jetstream.ErrBucketExists) {
				continue
			}
			return kv, err
		}
		if err != nil {
			return nil, err
		}
		st, err := kv.Status(ctx)
		if err != nil {
			return nil, err
		}
		bs, ok := st.(*jetstream.KeyValueBucketStatus)
		if !ok {
			return nil, fmt.Errorf("ensure: bucket %s: unexpected status type %T", want.Bucket, st)
		}
		cur := bs.Config()
		if !Differs(want, cur) {
			return kv, nil
		}
		kv, err = js.UpdateKeyValue(ctx, overlay(cur, want))
		if errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		return kv, err
	}
	return nil, fmt.Errorf("ensure: bucket %s kept changing under %d attempts", want.Bucket, attempts)
}

// Consumer makes the durable consumer want.Durable exist on stream with
// want's fields.
func Consumer(ctx context.Context, js jetstream.JetStream, stream string, want jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	if want.Durable == "" {
		return nil, errors.New("ensure: a consumer needs a durable name")
	}
	for range attempts {
		c, err := js.Consumer(ctx, stream, want.Durable)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			c, err = js.CreateConsumer(ctx, stream, want)
			if errors.Is(err, jetstream.ErrConsumerExists) {
				continue
			}
			return c, err
		}
		if err != nil {
			return nil, err
		}
		cur := c.CachedInfo().Config
		if !Differs(want, cur) {
			return c, nil
		}
		c, err = js.UpdateConsumer(ctx, stream, overlay(cur, want))
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDoesNotExist) {
			continue
		}
		return c, err
	}
	return nil, fmt.Errorf("ensure: consumer %s on %s kept changing under %d attempts", want.Durable, stream, attempts)
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
