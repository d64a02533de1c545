package testenv

import "runtime"

// HeapInUse is the live heap after two collections (the second frees what
// the first's finalizers and weak references released), for tests that
// measure what a structure holds.
func HeapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
