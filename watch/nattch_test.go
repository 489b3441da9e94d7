package watch

import (
	"testing"

	"github.com/ipckeys/ipckeys/manifest"
)

// A segment's range runs from its smallest sample to its largest; each
// namespace and key is its own segment.
func TestNattchRanges(t *testing.T) {
	r := NewNattchRanges()
	for _, n := range []int{2, 4, 1, 3} {
		r.Add(7, 0x6c0102ab, n)
	}
	r.Add(8, 0x6c0102ab, 9)
	r.Add(7, 0x6c0102ac, 0)
	for _, tc := range []struct {
		ns   uint32
		key  int32
		want manifest.Range
		ok   bool
	}{
		{7, 0x6c0102ab, manifest.Range{Min: 1, Max: 4}, true},
		{8, 0x6c0102ab, manifest.Range{Min: 9, Max: 9}, true},
		{7, 0x6c0102ac, manifest.Range{Min: 0, Max: 0}, true},
		{7, 0x6c0102ad, manifest.Range{}, false},
	} {
		if got, ok := r.Range(tc.ns, tc.key); got != tc.want || ok != tc.ok {
			t.Errorf("Range(%d, %#x) = %+v, %v; want %+v, %v", tc.ns, tc.key, got, ok, tc.want, tc.ok)
		}
	}
	var none *NattchRanges
	if _, ok := none.Range(7, 0x6c0102ab); ok {
		t.Error("a nil recorder has a sample")
	}
}
