package audit

import (
	"slices"
	"strings"
	"sync"

	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/ipcscan"
)

// Suggestion is a proj id that would give an entry a key of its own.
type Suggestion struct {
	Entry int // index of the entry to change
	Proj  int
	Key   int32
}

// suggestionsPerEntry is how many proj ids a finding offers per channel.
const suggestionsPerEntry = 3

// Suggest adds concrete fixes to key-collision, key-private and
// key-error-value findings: for each channel that has to change (every one
// in a collision but the first), the nearest proj ids, printable
// characters first, whose keys are unique among all configured keys, are
// not held by a live object (snap may be nil), and are neither 0 nor
// 0xffffffff.
func Suggest(findings []Finding, entries []Entry, snap *ipcscan.Snapshot) {
	taken := map[int32]bool{ftok.Private: true, ftok.ErrorValue: true}
	for i := range entries {
		if k, ok := entries[i].Key(); ok && entries[i].OK() {
			taken[k] = true
		}
	}
	if snap != nil {
		for _, s := range snap.Shm {
			taken[s.Key] = true
		}
		for _, s := range snap.Sem {
			taken[s.Key] = true
		}
		for _, q := range snap.Msg {
			taken[q.Key] = true
		}
	}
	var msg []byte // reused: the tail each finding's message gets
	for fi := range findings {
		f := &findings[fi]
		var change []int
		switch f.Code {
		case KeyCollision:
			change = changing(entries, f.Entries)
		case KeyPrivate, KeyErrorValue:
			change = f.Entries
		default:
			continue
		}
		msg = msg[:0]
		for _, i := range change {
			e := &entries[i]
			offers := 0
			var who string
			for _, proj := range projCandidates(e.Proj & 0xff) {
				k := e.File.Key(proj)
				if taken[k] {
					continue
				}
				if offers == 0 {
					taken[k] = true // the next channel must not pick it too
					who = Display(e.Path)
					if e.Channel != nil {
						who = "channel " + e.Channel.Name
					}
					if len(msg) == 0 {
						msg = append(msg, ". Suggested: "...)
					} else {
						msg = append(msg, "; "...)
					}
					msg = append(append(append(msg, "give "...), who...), " proj "...)
				} else {
					msg = append(msg, " or "...)
				}
				if f.Suggestions == nil {
					f.Suggestions = make([]Suggestion, 0, suggestionsPerEntry*len(change))
				}
				f.Suggestions = append(f.Suggestions, Suggestion{Entry: i, Proj: proj, Key: k})
				msg = ftok.AppendProj(msg, proj)
				msg = append(ftok.AppendHex(append(msg, " (key "...), k), ')')
				if offers++; offers == suggestionsPerEntry {
					break
				}
			}
			if offers > 0 {
				msg = append(append(append(msg, "; every program using "...), who...), " must change its proj id together"...)
			}
		}
		if len(msg) > 0 {
			var b strings.Builder
			b.Grow(len(f.Message) + len(msg))
			b.WriteString(f.Message)
			b.Write(msg)
			f.Message = b.String()
		}
	}
}

// changing returns the entries of a key collision that have to change:
// one per channel, all but the first channel, which keeps its key.
func changing(entries []Entry, idx []int) []int {
	var change []int
	ids := make([]ident, 1, min(len(idx), 17))
	ids[0] = identity(&entries[idx[0]])
	var seen map[ident]bool // once there are many channels
	for _, i := range idx[1:] {
		id := identity(&entries[i])
		if seen == nil && len(ids) > 16 {
			seen = make(map[ident]bool, len(idx))
			for _, have := range ids {
				seen[have] = true
			}
		}
		if seen != nil {
			if seen[id] {
				continue
			}
			seen[id] = true
		} else {
			if slices.Contains(ids, id) {
				continue
			}
			ids = append(ids, id)
		}
		change = append(change, i)
	}
	return change
}

// candidates holds projCandidates for every current proj byte, made on
// first use: a scan can ask for thousands of suggestions.
var candidates = sync.OnceValue(func() *[256][]int {
	var c [256][]int
	for cur := range c {
		c[cur] = orderCandidates(cur)
	}
	return &c
})

// projCandidates orders proj ids by preference: printable characters
// (! to ~) nearest to the current proj first, then the other values 1..255
// by distance. The current proj is not a candidate. The slice is shared:
// do not change it.
func projCandidates(cur int) []int { return candidates()[cur&0xff] }

func orderCandidates(cur int) []int {
	var printable, other []int
	for d := 1; d < 256; d++ {
		for _, p := range []int{cur - d, cur + d} {
			if p < 1 || p > 255 {
				continue
			}
			if p > ' ' && p < 0x7f {
				printable = append(printable, p)
			} else {
				other = append(other, p)
			}
		}
	}
	return append(printable, other...)
}
