// Package faultplan is the fault schedule the CDN fakes share: faults
// queued one per call, then an outage that answers every call until it
// ends, and a count of the calls received. Each fake keeps its own Fault
// type, whose fields follow its vendor's API.
package faultplan

import "sync"

// Plan schedules faults of type F. The zero value has none.
type Plan[F any] struct {
	mu       sync.Mutex
	queued   []F
	down     *F
	received int
}

// Queue adds faults for the next calls, one per call, in order.
func (p *Plan[F]) Queue(f ...F) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queued = append(p.queued, f...)
}

// Down makes every call answer f, after the queued faults, until Up.
func (p *Plan[F]) Down(f F) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = &f
}

// Up ends the outage Down began.
func (p *Plan[F]) Up() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = nil
}

// Next counts a received call and returns its fault, nil for none.
func (p *Plan[F]) Next() *F {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.received++
	if len(p.queued) > 0 {
		f := p.queued[0]
		p.queued = p.queued[1:]
		return &f
	}
	if p.down != nil {
		f := *p.down
		return &f
	}
	return nil
}

// Received is the number of calls Next counted.
func (p *Plan[F]) Received() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.received
}
