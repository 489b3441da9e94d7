package audit

import (
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/ipcscan"
)

// Suggestion is a fix that would give an entry a key of its own: a new
// inode for its key file (FixRekey), or a proj id (FixProj).
type Suggestion struct {
	Kind  FixKind
	Entry int   // index of the entry to change
	Proj  int   // FixProj: the proj id
	Key   int32 // FixProj: the key it gives
}

// FixKind is what a suggestion changes.
type FixKind int

const (
	// FixProj gives a channel another proj id: every program using the
	// channel changes together.
	FixProj FixKind = iota
	// FixRekey re-creates the entry's key file as a new file (ipckeys
	// rekey): a new inode, a new key, no program change. Its key is known
	// only once the file is made.
	FixRekey
)

// String is the kind as reports name it: "proj" or "rekey".
func (k FixKind) String() string {
	if k == FixRekey {
		return "rekey"
	}
	return "proj"
}

// RekeyCommand is the command a FixRekey suggestion for e names.
func RekeyCommand(e *Entry) string { return "ipckeys rekey " + Display(e.Path) }

// suggestionsPerEntry is how many proj ids a finding offers per channel.
const suggestionsPerEntry = 3

// Suggest adds concrete fixes to key-collision, key-private and
// key-error-value findings. For a collision, the cheap fix comes first:
// re-creating the key file of each channel that has to change (every one
// in a collision but the first), when it is a key file the scan looked at
// (ipckeys rekey: a new inode, so a new key, and no program change). Then,
// for each channel that has to change, the nearest proj ids, printable
// characters first, whose keys are unique among all configured keys, are
// not held by a live object (snap may be nil), and are neither 0 nor
// 0xffffffff.
func Suggest(findings []Finding, entries []Entry, snap *ipcscan.Snapshot) {
	taken := newKeySet(len(entries) + 2)
	taken.add(ftok.Private)
	taken.add(ftok.ErrorValue)
	for i := range entries {
		if k, ok := entries[i].Key(); ok && entries[i].OK() {
			taken.add(k)
		}
	}
	if snap != nil {
		for _, s := range snap.Shm {
			taken.add(s.Key)
		}
		for _, s := range snap.Sem {
			taken.add(s.Key)
		}
		for _, q := range snap.Msg {
			taken.add(q.Key)
		}
	}
	// The choice is made in order: a key offered first is taken for the
	// findings after. A proj id changes only a key's top byte, so the keys
	// offered for one finding share its fingerprint (its low 24 bits), and
	// findings of different fingerprints never compete for one: the
	// findings are shared out among the CPUs by fingerprint, each CPU
	// choosing in order among its own, with what it offered kept apart.
	workers := max(1, min(runtime.GOMAXPROCS(0), len(findings)/512))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			offered := newKeySet(0)
			var msg []byte
			for fi := range findings {
				f := &findings[fi]
				switch {
				case f.Code != KeyCollision && f.Code != KeyPrivate && f.Code != KeyErrorValue, len(f.Entries) == 0:
					continue
				}
				if suggestionFingerprint(f, entries)%uint32(workers) != uint32(w) {
					continue
				}
				choose(f, entries, taken, offered)
				if len(f.Suggestions) > 0 {
					msg = addSuggestions(f, entries, msg)
				}
			}
		})
	}
	wg.Wait()
}

// choose adds to f its suggestions: for each channel that has to change,
// the first proj ids whose keys neither taken nor offered holds; the first
// offered to each channel goes into offered.
func choose(f *Finding, entries []Entry, taken, offered *keySet) {
	change := f.Entries
	if f.Code == KeyCollision {
		change = changing(entries, f.Entries)
		f.Suggestions = rekeys(f, entries, change)
	}
	for _, i := range change {
		e := &entries[i]
		offers := 0
		for _, proj := range projCandidates(e.Proj & 0xff) {
			k := e.File.Key(proj)
			if taken.has(k) || offered.has(k) {
				continue
			}
			if offers == 0 {
				offered.add(k) // the next channel must not pick it too
			}
			if f.Suggestions == nil {
				f.Suggestions = make([]Suggestion, 0, suggestionsPerEntry*len(change))
			}
			f.Suggestions = append(f.Suggestions, Suggestion{Entry: i, Proj: proj, Key: k})
			if offers++; offers == suggestionsPerEntry {
				break
			}
		}
	}
}

// rekeys are the FixRekey suggestions of a collision: one per key file of
// the channels that change, when re-creating it separates them from the
// channels that keep the key. A file a config is (deploys rewrite it), one
// seen only in another mount namespace, and one shared with a channel that
// keeps the key are left to proj ids.
func rekeys(f *Finding, entries []Entry, change []int) []Suggestion {
	var out []Suggestion
	var files []ftok.File
	for _, i := range change {
		e := &entries[i]
		if !e.OK() || e.Static || e.ConfigKeyFile != "" || e.HostFile != nil || slices.Contains(files, e.File.File) {
			continue
		}
		shared := false
		for _, j := range f.Entries {
			if !slices.Contains(change, j) && entries[j].File.File == e.File.File {
				shared = true
			}
		}
		if shared {
			continue
		}
		files = append(files, e.File.File)
		out = append(out, Suggestion{Kind: FixRekey, Entry: i})
	}
	return out
}

// suggestionFingerprint is the fingerprint of the keys a finding's
// suggestions can have: its key's low 24 bits, which its entries share.
func suggestionFingerprint(f *Finding, entries []Entry) uint32 {
	if f.Key != nil {
		return uint32(*f.Key) & 0xffffff
	}
	return uint32(entries[f.Entries[0]].File.Fingerprint())
}

// addSuggestions ends the message of f with its suggestions: ". Suggested:
// give channel audit proj 107 'k' (key 0x6b014001) or …; every program
// using channel audit must change its proj id together; give …". msg is
// scratch memory, returned for the next call.
func addSuggestions(f *Finding, entries []Entry, msg []byte) []byte {
	msg = append(msg[:0], ". Suggested: "...)
	projs := f.Suggestions
	for len(projs) > 0 && projs[0].Kind == FixRekey {
		projs = projs[1:]
	}
	if rekeyed := len(f.Suggestions) - len(projs); rekeyed > 0 {
		msg = append(msg, "ipckeys rekey"...)
		for _, sg := range f.Suggestions[:rekeyed] {
			msg = append(append(msg, ' '), Display(entries[sg.Entry].Path)...)
		}
		msg = append(msg, " (a new inode for the key file, so a new key: no program changes)"...)
		if len(projs) == 0 {
			return appendMessage(f, msg)
		}
		msg = append(msg, "; or "...)
	}
	for n, sg := range projs {
		if n > 0 && sg.Entry == projs[n-1].Entry {
			msg = append(msg, " or "...)
		} else {
			if n > 0 {
				msg = append(append(append(msg, "; every program using "...), suggestedTo(&entries[projs[n-1].Entry])...), " must change its proj id together; "...)
			}
			msg = append(append(append(msg, "give "...), suggestedTo(&entries[sg.Entry])...), " proj "...)
		}
		msg = ftok.AppendProj(msg, sg.Proj)
		msg = append(ftok.AppendHex(append(msg, " (key "...), sg.Key), ')')
	}
	last := &entries[projs[len(projs)-1].Entry]
	msg = append(append(append(msg, "; every program using "...), suggestedTo(last)...), " must change its proj id together"...)
	return appendMessage(f, msg)
}

// appendMessage ends f's message with msg, and returns msg.
func appendMessage(f *Finding, msg []byte) []byte {
	var b strings.Builder
	b.Grow(len(f.Message) + len(msg))
	b.WriteString(f.Message)
	b.Write(msg)
	f.Message = b.String()
	return msg
}

// suggestedTo names who a suggestion is for: the channel, or the path.
func suggestedTo(e *Entry) string {
	if e.Channel != nil {
		return "channel " + e.Channel.Name
	}
	return Display(e.Path)
}

// changing returns the entries of a key collision that have to change:
// one per channel, all but the first channel, which keeps its key.
func changing(entries []Entry, idx []int) []int {
	if len(idx) == 2 { // most collisions: two channels
		if identity(&entries[idx[0]]) == identity(&entries[idx[1]]) {
			return nil
		}
		return idx[1:]
	}
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

// keySet is a set of keys: an open-addressing table, which a scan of
// 100,000 keys fills and probes several times faster than a map. A slot
// holds a key plus one, so that 0 marks an empty slot; the key -1 (0xffffffff)
// is kept aside.
type keySet struct {
	slots []uint32 // a power of two of them
	shift uint     // 32 - log2(len(slots)): the hash is the top bits
	n     int
	minus bool // holds -1
}

func newKeySet(capacity int) *keySet {
	s := &keySet{}
	s.resize(max(16, 2*capacity))
	return s
}

// resize makes the table at least size slots, empty.
func (s *keySet) resize(size int) {
	s.shift = 32
	for 1<<(32-s.shift) < size {
		s.shift--
	}
	s.slots, s.n = make([]uint32, 1<<(32-s.shift)), 0
}

// slot returns where k is, or the empty slot where it would go
// (Fibonacci hashing, linear probing).
func (s *keySet) slot(k int32) int {
	mask := len(s.slots) - 1
	i := int(uint32(k) * 0x9e3779b1 >> s.shift)
	for s.slots[i] != 0 && s.slots[i] != uint32(k)+1 {
		i = (i + 1) & mask
	}
	return i
}

func (s *keySet) has(k int32) bool {
	if k == -1 {
		return s.minus
	}
	return s.slots[s.slot(k)] != 0
}

func (s *keySet) add(k int32) {
	if k == -1 {
		s.minus = true
		return
	}
	i := s.slot(k)
	if s.slots[i] != 0 {
		return
	}
	s.slots[i] = uint32(k) + 1
	if s.n++; 2*s.n > len(s.slots) {
		old := s.slots
		s.resize(2 * len(old))
		for _, v := range old {
			if v != 0 {
				s.add(int32(v - 1))
			}
		}
	}
}
