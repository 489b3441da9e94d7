package audit

import (
	"math/rand/v2"
	"testing"
)

// TestKeySet holds keySet against a map: random keys with many repeats,
// the keys 0 and -1 and both ends of int32, through several growths.
func TestKeySet(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	want := map[int32]bool{}
	s := newKeySet(4)
	keys := []int32{0, -1, 1, -2, 1<<31 - 1, -1 << 31}
	for range 50_000 {
		keys = append(keys, int32(r.Uint32()), int32(r.IntN(1000)))
	}
	for n, k := range keys {
		if s.has(k) != want[k] {
			t.Fatalf("before adding key %d (#%d): has = %v, want %v", k, n, s.has(k), want[k])
		}
		if n%3 != 0 {
			s.add(k)
			want[k] = true
		}
	}
	for k := range want {
		if !s.has(k) {
			t.Fatalf("key %d added but not held", k)
		}
	}
	for range 10_000 {
		if k := int32(r.Uint32()); s.has(k) != want[k] {
			t.Fatalf("key %d: has = %v, want %v", k, s.has(k), want[k])
		}
	}
}
