package watch

import (
	"sync"

	"github.com/ipckeys/ipckeys/manifest"
)

// NattchRanges records, while a watch learns, how many processes were
// seen attached to each segment: the range of its samples is the nattch
// the learnt manifest declares. The events cannot tell it (a fork
// inherits an attachment without a call, an exit detaches without one),
// so the caller samples the tables and feeds each segment's count, the
// one scan --live holds the nattch to (audit.AttachCount). A segment is
// named by its IPC namespace and key, as the events name it. It is safe
// for concurrent use.
type NattchRanges struct {
	mu   sync.Mutex
	seen map[segmentKey]manifest.Range
}

type segmentKey struct {
	ns  uint32
	key int32
}

// NewNattchRanges returns a recorder with no samples.
func NewNattchRanges() *NattchRanges {
	return &NattchRanges{seen: map[segmentKey]manifest.Range{}}
}

// Add records one sample: n processes attached to the segment with key
// in IPC namespace ns.
func (r *NattchRanges) Add(ns uint32, key int32, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := segmentKey{ns, key}
	have, ok := r.seen[id]
	if !ok {
		r.seen[id] = manifest.Range{Min: n, Max: n}
		return
	}
	r.seen[id] = manifest.Range{Min: min(have.Min, n), Max: max(have.Max, n)}
}

// Range returns the smallest and largest sample of a segment, and false
// when it was never sampled (nil r has no samples).
func (r *NattchRanges) Range(ns uint32, key int32) (manifest.Range, bool) {
	if r == nil {
		return manifest.Range{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	got, ok := r.seen[segmentKey{ns, key}]
	return got, ok
}
