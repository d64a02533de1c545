package purge

import (
	"context"
	"sync"
)

// inbox is a queue of jobs and a wake-up signal: the worker's (all its
// purges) and each zone lane's. Its length is bounded by the consumer's
// MaxAckPending, since every job in it is an unacked message.
type inbox struct {
	mu    sync.Mutex
	queue []*job
	wake  chan struct{}
}

func newInbox() *inbox { return &inbox{wake: make(chan struct{}, 1)} }

func (in *inbox) push(jobs []*job) {
	in.mu.Lock()
	in.queue = append(in.queue, jobs...)
	in.mu.Unlock()
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// take waits for jobs and returns all that are queued; ok is false once
// ctx ends.
func (in *inbox) take(ctx context.Context) (jobs []*job, ok bool) {
	for {
		if ctx.Err() != nil {
			return nil, false
		}
		in.mu.Lock()
		jobs, in.queue = in.queue, nil
		in.mu.Unlock()
		if len(jobs) > 0 {
			return jobs, true
		}
		select {
		case <-ctx.Done():
			return nil, false
		case <-in.wake:
		}
	}
}
