// Package topk finds the most frequent keys of a stream in bounded memory:
// the Space-Saving algorithm (Metwally, Agrawal, El Abbadi, 2005), which
// keeps k counters and, when a new key arrives with all of them taken,
// hands it the smallest one's count plus one. Every key whose true count
// exceeds n/k (n observations) is among the k kept, and a kept key's count
// overestimates its true count by at most its Err.
//
// It is written here rather than imported: the well-kept Go caches that
// carry a frequency sketch (otter, ristretto) keep theirs unexported, and
// they answer "how often was this key seen", not "which keys are the most
// seen", which is what warming needs. Space-Saving is some eighty lines;
// a dependency for it would weigh more than it.
//
// A Sketch is not safe for concurrent use; its owner locks.
package topk
