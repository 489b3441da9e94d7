package audit

import (
	"fmt"
	"strings"

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
	for fi := range findings {
		f := &findings[fi]
		var change []int
		switch f.Code {
		case KeyCollision:
			ids := map[string]bool{}
			for n, i := range f.Entries {
				id := identity(&entries[i])
				if n == 0 {
					ids[id] = true // the first keeps its key
					continue
				}
				if !ids[id] {
					ids[id] = true
					change = append(change, i)
				}
			}
		case KeyPrivate, KeyErrorValue:
			change = f.Entries
		default:
			continue
		}
		var parts []string
		for _, i := range change {
			e := &entries[i]
			var offers []string
			for _, proj := range projCandidates(e.Proj & 0xff) {
				k := e.File.Key(proj)
				if taken[k] {
					continue
				}
				if len(offers) == 0 {
					taken[k] = true // the next channel must not pick it too
				}
				f.Suggestions = append(f.Suggestions, Suggestion{Entry: i, Proj: proj, Key: k})
				offers = append(offers, fmt.Sprintf("%s (key %s)", ftok.ProjString(proj), ftok.Hex(k)))
				if len(offers) == suggestionsPerEntry {
					break
				}
			}
			if len(offers) == 0 {
				continue
			}
			who := Display(e.Path)
			if e.Channel != nil {
				who = "channel " + e.Channel.Name
			}
			parts = append(parts, fmt.Sprintf("give %s proj %s; every program using %s must change its proj id together",
				who, strings.Join(offers, " or "), who))
		}
		if len(parts) > 0 {
			f.Message += ". Suggested: " + strings.Join(parts, "; ")
		}
	}
}

// projCandidates orders proj ids by preference: printable characters
// (! to ~) nearest to the current proj first, then the other values 1..255
// by distance. The current proj is not a candidate.
func projCandidates(cur int) []int {
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
