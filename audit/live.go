package audit

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/internal/display"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/manifest"
)

// Live finding codes: what the running objects say about the configured
// channels. Stable, like the others.
const (
	NattchMismatch  = "nattch-mismatch"
	MissingObject   = "missing-object"
	KeyInUse        = "key-in-use"
	StaleObject     = "stale-object"
	RemovedAttached = "removed-attached"
	TypeMismatch    = "type-mismatch"
	KeyDrift        = "key-drift"
	KeyCoincidence  = "key-coincidence"
)

func init() {
	Rules = append(Rules,
		Rule{NattchMismatch, Error, "a channel's live segment is attached by more or fewer processes than the manifest expects: more is often two services sharing one key; fewer, processes of the channel that exited or were killed; none, a service that is down", "more: find which processes are attached (ipckeys ls) and give the channel that should not be there its own key; fewer or none: find out why the channel's processes are not running, and restart them"},
		Rule{KeyInUse, Error, "a configured key is already held by a live object: owned by another user (error), or, with no owner in the manifest, held at all (info: a previous instance, or another application)", "check the holder named in the message; remove a leftover object with ipcrm, or give the channel another key"},
		Rule{MissingObject, Warning, "a channel expected to be attached has no live object with its key (the message names live objects that have the key file's device byte and inode bits under another proj byte)", "start the service that creates it, or check that its programs compute the same key: the same proj id (the message names the one a live object uses) and the same key file (a replaced key file changes it)"},
		Rule{StaleObject, Warning, "a segment nothing is attached to and whose creator is gone: leaked, since System V IPC has no reference count", "remove it with ipcrm -m ID once nothing will attach again"},
		Rule{RemovedAttached, Warning, "a segment removed while attached: it lives, with key 0, until its last holder detaches, and no new process can find it (info while it drains: a newer attached segment with the same key was made less than 30 minutes ago, as in a graceful restart)", "restart the holders listed, so they create or attach the current segment; while it drains, nothing, unless they are still attached after the drain"},
		Rule{KeyDrift, Warning, "a live object has a configured channel's proj and device byte but inode bits of no configured file, was made before the channel's key file last changed, and is the channel's (its owner or creator is the channel's manifest owner, or made the object holding the channel's current key): the file was probably replaced (editor save, config management rename, tmp cleaner) after the running processes computed their key, so processes started now use another key and another object", "restart every program of the channel together so they agree on the current key, and make the key file one that nothing rewrites"},
		Rule{KeyCoincidence, Info, "a live object has a configured channel's proj and device byte and was made before the channel's key file last changed, like a drifted key, but nothing says it is the channel's: its owner and creator are not the channel's manifest owner, nor the maker of the object holding the channel's current key. Most likely another application that uses the same proj byte on the same filesystem", "nothing, if it is another application's; if it is the channel's, declare the channel's owner in the manifest (or correct it) so the drift is reported"},
		Rule{TypeMismatch, Warning, "the channel's key is live, but as another facility than the manifest says", "fix the manifest's type, or find the program using the key for the other facility"},
		// Last: it is about the other checks, live and descriptor ones.
		Rule{CheckIncomplete, Warning, "a check the inputs ask for could not be made in full, and what could not be read may hide a finding: processes whose maps or descriptors are hidden (another user's, as an ordinary user; a sandbox, even as root). Without --allow-incomplete the run fails with exit 2 instead", "run as root; or, where a sandbox hides processes even from root, accept it with --allow-incomplete (or suppress it for the channel or listener named)"},
	)
}

// ObjectRef names a live object a finding is about.
type ObjectRef struct {
	Facility string // "shm", "sem" or "msg"
	ID       int
	Key      int32
}

// liveObject is any object, with what the checks need of it.
type liveObject struct {
	ref   ObjectRef
	perm  ipcscan.Perm
	shm   *ipcscan.Segment
	cpid  int
	extra string // "12288 bytes", "3 semaphores", "2 messages"
}

// Live is what the live checks look at: the snapshot, and the uids of the
// owners the manifests name.
type Live struct {
	Snap      *ipcscan.Snapshot
	OwnerUIDs map[string]uint32
}

// CheckLive returns the findings of the live checks: each configured key
// against the objects that hold it, and every segment for leaks.
func CheckLive(entries []Entry, live Live) []Finding {
	s := live.Snap
	byKey := map[string]map[int32]*liveObject{"shm": {}, "sem": {}, "msg": {}}
	for i := range s.Shm {
		sg := &s.Shm[i]
		if sg.Key != 0 {
			byKey["shm"][sg.Key] = &liveObject{ref: ObjectRef{"shm", sg.ID, sg.Key}, perm: sg.Perm, shm: sg, cpid: sg.CPID, extra: fmt.Sprintf("%d bytes", sg.Size)}
		}
	}
	for _, st := range s.Sem {
		if st.Key != 0 {
			byKey["sem"][st.Key] = &liveObject{ref: ObjectRef{"sem", st.ID, st.Key}, perm: st.Perm, extra: fmt.Sprintf("%d semaphores", st.NSems)}
		}
	}
	for _, q := range s.Msg {
		if q.Key != 0 {
			byKey["msg"][q.Key] = &liveObject{ref: ObjectRef{"msg", q.ID, q.Key}, perm: q.Perm, cpid: q.LSPID, extra: fmt.Sprintf("%d messages", q.QNum)}
		}
	}
	var out []Finding
	seen := map[string]bool{} // one key-in-use per key and facility per channel
	var others map[ftok.Fingerprint][]ObjectRef
	for i := range entries {
		e := &entries[i]
		k, ok := e.Key()
		if !ok || !e.OK() || k == ftok.Private {
			continue
		}
		want := ""
		if e.Channel != nil {
			want = e.Channel.Type
			if want == "" && e.Channel.Nattch != nil {
				want = "shm" // an attach count means a segment
			}
		}
		var held []*liveObject
		for _, fac := range []string{"shm", "sem", "msg"} {
			if o := byKey[fac][k]; o != nil {
				held = append(held, o)
			}
		}
		var mine *liveObject
		for _, o := range held {
			if want == "" || o.ref.Facility == want {
				mine = o
			}
		}
		one := entryOf(i)
		if want != "" && mine == nil && len(held) > 0 {
			o := held[0]
			out = append(out, Finding{Code: TypeMismatch, Severity: Warning, Key: &k, Entries: one(), Object: &o.ref,
				Message: fmt.Sprintf("%s is configured as %s, but key %s is live as %s id %d (%s): fix the manifest's type, or find the program using the key for %s",
					describe(e), want, ftok.Hex(k), facilityName(o.ref.Facility), o.ref.ID, ownerOf(s, o), facilityName(o.ref.Facility))})
		}
		if mine == nil {
			if e.Channel != nil && e.Channel.Nattch != nil && e.Channel.Nattch.Min >= 1 {
				if others == nil {
					others = byFingerprint(s)
				}
				out = append(out, Finding{Code: MissingObject, Severity: Warning, Key: &k, Entries: one(),
					Message: fmt.Sprintf("%s expects %s attached, but no %s has key %s: the service is down, or its programs compute another key (was the key file replaced?)%s",
						describe(e), plural(e.Channel.Nattch.String(), "process"), facilityName(want), ftok.Hex(k), otherProj(e, want, k, others[e.File.Fingerprint()]))})
			}
			continue
		}
		for _, o := range held {
			if want != "" && o != mine {
				continue
			}
			id := fmt.Sprintf("%s %d %d", o.ref.Facility, o.ref.ID, i)
			if seen[id] {
				continue
			}
			seen[id] = true
			if f, ok := keyInUse(e, o, k, live, one()); ok {
				out = append(out, f)
			}
		}
		if mine.shm != nil && e.Channel != nil && e.Channel.Nattch != nil {
			if f, ok := nattchMismatch(e, mine, k, s, one()); ok {
				out = append(out, f)
			}
		}
		if mine.shm != nil && e.Channel != nil && len(e.Channel.Exes) > 0 {
			out = append(out, unexpectedHolders(e, mine, k, s, one)...)
		}
	}
	out = append(out, keyDrift(entries, live)...)
	out = append(out, segmentHygiene(s)...)
	return out
}

// entryOf returns a function making the one-entry list of a finding about
// entry i: most entries have no live finding, and a scan can have a
// million of them.
func entryOf(i int) func() []int {
	return func() []int { return []int{i} }
}

// byFingerprint indexes the live objects by the file part of their key
// (removed segments by the key their holders still map).
func byFingerprint(s *ipcscan.Snapshot) map[ftok.Fingerprint][]ObjectRef {
	out := map[ftok.Fingerprint][]ObjectRef{}
	add := func(ref ObjectRef) {
		if ref.Key != 0 {
			fp := ftok.Decode(ref.Key).Fingerprint()
			out[fp] = append(out[fp], ref)
		}
	}
	for _, sg := range s.Shm {
		if k, known := s.OriginalKey(sg); known {
			add(ObjectRef{"shm", sg.ID, k})
		}
	}
	for _, st := range s.Sem {
		add(ObjectRef{"sem", st.ID, st.Key})
	}
	for _, q := range s.Msg {
		add(ObjectRef{"msg", q.ID, q.Key})
	}
	return out
}

// otherProj names the live objects of the channel's facility that have
// its key file's device byte and inode bits under another proj byte: the
// channel's programs may pass another proj id than the manifest says
// ('A' for 0x41, or 1 for '1'). It returns "" when there are none.
func otherProj(e *Entry, want string, key int32, objs []ObjectRef) string {
	var names, projs []string
	for _, o := range objs {
		if o.Key == key || (want != "" && o.Facility != want) {
			continue
		}
		names = append(names, fmt.Sprintf("%s id %d (key %s)", facilityName(o.Facility), o.ID, ftok.Hex(o.Key)))
		if p := ftok.ProjString(int(ftok.Decode(o.Key).Proj)); !slices.Contains(projs, p) {
			projs = append(projs, p)
		}
	}
	if len(names) == 0 {
		return ""
	}
	verb, them := "has", "it is"
	if len(names) > 1 {
		verb, them = "have", "they are"
	}
	p := ftok.Decode(key)
	return fmt.Sprintf("; %s %s this key file's device byte 0x%02x and inode bits 0x%04x under another proj byte: if %s this channel's, its programs pass proj %s, not %s; make the manifest and the programs agree",
		strings.Join(names, " and "), verb, p.DevByte, p.InoBits, them, strings.Join(projs, " or "), ftok.ProjString(e.Proj))
}

// keyDrift finds live objects that look like a channel's key before its
// key file was replaced: same proj byte and device byte as the channel,
// inode bits of no configured file, and created before the key file's
// inode last changed. Those are candidates; a candidate is key-drift only
// with evidence that the object is the channel's (see driftEvidence),
// and otherwise a key-coincidence: another application that happens to
// use the same proj byte on the same filesystem.
func keyDrift(entries []Entry, live Live) []Finding {
	s := live.Snap
	configured := map[int32]bool{}
	for i := range entries {
		if k, ok := entries[i].Key(); ok && entries[i].OK() {
			configured[k] = true
		}
	}
	var objs []driftObject
	for _, sg := range s.Shm {
		if k, known := s.OriginalKey(sg); known && k != 0 {
			objs = append(objs, driftObject{ObjectRef{"shm", sg.ID, k}, sg.Perm, sg.Ctime, sg.ID, sg.CPID})
		}
	}
	for _, st := range s.Sem {
		objs = append(objs, driftObject{ObjectRef{"sem", st.ID, st.Key}, st.Perm, st.Ctime, -1, 0})
	}
	for _, q := range s.Msg {
		objs = append(objs, driftObject{ObjectRef{"msg", q.ID, q.Key}, q.Perm, q.Ctime, -1, q.LSPID})
	}
	var out []Finding
	channels := newDriftIndex(entries, live)
	for _, o := range objs {
		if o.ref.Key == 0 || configured[o.ref.Key] {
			continue
		}
		p := ftok.Decode(o.ref.Key)
		i, evidence := channels.first(p.Proj, p.DevByte, o)
		if i < 0 {
			continue
		}
		e := &entries[i]
		k, _ := e.Key()
		who := "no process attached"
		if o.shmid >= 0 {
			if hs := s.Holders(o.shmid); len(hs) > 0 {
				who = "still attached: " + holderList(hs)
			}
		} else {
			who = "its users cannot be listed (only segments show in /proc/PID/maps)"
		}
		ref := o.ref
		key := o.ref.Key
		if evidence != "" {
			out = append(out, Finding{Code: KeyDrift, Severity: Warning, Key: &key, Entries: []int{i}, Object: &ref,
				Message: fmt.Sprintf("%s id %d has key %s: the proj and device byte of %s, whose key is now %s, but inode bits 0x%04x of no configured file, and it was made before the key file last changed, %s: the file was probably replaced (editor save, config management rename, tmp cleaner) after the running processes computed their key; %s; processes started now use %s and another object: restart every program of the channel together",
					facilityName(o.ref.Facility), o.ref.ID, ftok.Hex(o.ref.Key), describe(e), ftok.Hex(k), p.InoBits, evidence, who, ftok.Hex(k))})
			continue
		}
		lo := &liveObject{ref: o.ref, perm: o.perm, cpid: o.cpid}
		out = append(out, Finding{Code: KeyCoincidence, Severity: Info, Key: &key, Entries: []int{i}, Object: &ref,
			Message: fmt.Sprintf("%s id %d has key %s (owned by %s; %s): the proj and device byte of %s, whose key is %s, but inode bits 0x%04x of no configured file; it was made before the key file last changed, but %s, so it is taken for another application's object that happens to use the same proj byte on the same filesystem, not for the channel's drifted key; %s",
				facilityName(o.ref.Facility), o.ref.ID, ftok.Hex(o.ref.Key), ownerOf(s, lo), who, describe(e), ftok.Hex(k), p.InoBits, channels.noEvidence(i, o), channels.tell(i))})
	}
	return out
}

// driftObject is a live object as keyDrift weighs it.
type driftObject struct {
	ref   ObjectRef
	perm  ipcscan.Perm
	ctime int64
	shmid int // -1 unless a segment
	cpid  int // creator (last sender of a queue); 0 unknown
}

// driftIndex finds, for a live object, the first channel (in entry
// order) whose key could have been the object's before its key file was
// replaced: same proj byte and device byte, a facility that fits, and a
// key file changed after the object was made; first among the channels
// with evidence that the object is theirs, else among all. It answers
// each object in logarithmic time, so thousands of objects against a
// million channels stay cheap.
//
// The evidence is a uid, read from the tables (so it never depends on
// which processes could be read): the object's owner or creator is the
// channel's owner in the manifest; or, for a channel without an owner, it
// is the owner or creator of a live object that holds the channel's
// current key (the same user made both). A channel whose manifest owner
// is not a user on this host has no evidence.
type driftIndex struct {
	entries []Entry
	live    Live
	byPlace map[driftPlace][]int // usable channels with a ctime, in entry order
	sorted  map[driftQuery]*byCtime
	// uids are, for a channel, the uids whose objects are its.
	uids map[int][]uint32
	// current are the live objects holding each key.
	current map[int32][]driftObject
}

type driftPlace struct{ proj, dev uint8 }

type driftQuery struct {
	place    driftPlace
	facility string
	uid      int64 // -1: any channel, evidence or not
}

// byCtime holds channels by key file ctime, newest first, and for each
// prefix the lowest entry index in it.
type byCtime struct {
	ctime    []int64
	firstIdx []int
}

func newDriftIndex(entries []Entry, live Live) *driftIndex {
	d := &driftIndex{entries: entries, live: live, byPlace: map[driftPlace][]int{}, sorted: map[driftQuery]*byCtime{},
		uids: map[int][]uint32{}, current: map[int32][]driftObject{}}
	s := live.Snap
	for _, sg := range s.Shm {
		if sg.Key != 0 {
			d.current[sg.Key] = append(d.current[sg.Key], driftObject{ref: ObjectRef{"shm", sg.ID, sg.Key}, perm: sg.Perm})
		}
	}
	for _, st := range s.Sem {
		if st.Key != 0 {
			d.current[st.Key] = append(d.current[st.Key], driftObject{ref: ObjectRef{"sem", st.ID, st.Key}, perm: st.Perm})
		}
	}
	for _, q := range s.Msg {
		if q.Key != 0 {
			d.current[q.Key] = append(d.current[q.Key], driftObject{ref: ObjectRef{"msg", q.ID, q.Key}, perm: q.Perm})
		}
	}
	for i := range entries {
		e := &entries[i]
		if e.Channel == nil || !e.OK() || e.File.Ctime == 0 {
			continue
		}
		p := driftPlace{uint8(e.Proj), uint8(e.File.Dev)}
		d.byPlace[p] = append(d.byPlace[p], i)
		if u := d.evidenceUIDs(i); len(u) > 0 {
			d.uids[i] = u
		}
	}
	return d
}

// evidenceUIDs returns the uids whose objects are channel i's.
func (d *driftIndex) evidenceUIDs(i int) []uint32 {
	c := d.entries[i].Channel
	if c.Owner != "" {
		if uid, ok := d.live.OwnerUIDs[c.Owner]; ok {
			return []uint32{uid}
		}
		return nil
	}
	k, _ := d.entries[i].Key()
	var out []uint32
	for _, o := range d.current[k] {
		if c.Type != "" && o.ref.Facility != c.Type {
			continue
		}
		for _, u := range []uint32{o.perm.UID, o.perm.CUID} {
			if !slices.Contains(out, u) {
				out = append(out, u)
			}
		}
	}
	return out
}

// first returns the lowest index of a channel at proj byte and device
// byte whose key could have been o's, preferring channels with evidence
// that o is theirs, and that evidence ("" for none); -1 if there is none.
func (d *driftIndex) first(proj, dev uint8, o driftObject) (int, string) {
	place := driftPlace{proj, dev}
	best := -1
	for _, uid := range []uint32{o.perm.UID, o.perm.CUID} {
		if i := d.lookup(driftQuery{place, o.ref.Facility, int64(uid)}, o.ctime); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	if best >= 0 {
		return best, d.evidence(best, o)
	}
	return d.lookup(driftQuery{place, o.ref.Facility, -1}, o.ctime), ""
}

// evidence says why o is channel i's.
func (d *driftIndex) evidence(i int, o driftObject) string {
	c := d.entries[i].Channel
	if c.Owner != "" {
		return fmt.Sprintf("and its owner or creator is the channel's owner %s", c.Owner)
	}
	k, _ := d.entries[i].Key()
	for _, cur := range d.current[k] {
		if (c.Type == "" || cur.ref.Facility == c.Type) && sameMaker(cur.perm, o.perm) {
			return fmt.Sprintf("by the same user (%s) as %s id %d, which holds the channel's current key", ipcscan.UserName(o.perm.CUID), facilityName(cur.ref.Facility), cur.ref.ID)
		}
	}
	return "and it is the channel's"
}

// sameMaker reports whether two objects share an owner or creator uid.
func sameMaker(a, b ipcscan.Perm) bool {
	return a.UID == b.UID || a.UID == b.CUID || a.CUID == b.UID || a.CUID == b.CUID
}

// noEvidence says why o is not taken for channel i's.
func (d *driftIndex) noEvidence(i int, o driftObject) string {
	c := d.entries[i].Channel
	k, _ := d.entries[i].Key()
	switch {
	case c.Owner != "":
		if _, ok := d.live.OwnerUIDs[c.Owner]; !ok {
			return fmt.Sprintf("the channel's owner %s is not a user on this host", c.Owner)
		}
		return fmt.Sprintf("neither its owner nor its creator is the channel's owner %s", c.Owner)
	case len(d.current[k]) > 0:
		return fmt.Sprintf("the live object holding the channel's key %s was made by another user", ftok.Hex(k))
	}
	return "nothing ties it to the channel: the manifest names no owner and no live object holds the channel's current key"
}

// tell says what would tell drift from coincidence for channel i.
func (d *driftIndex) tell(i int) string {
	if d.entries[i].Channel.Owner == "" {
		return "if it is the channel's, declare the channel's owner in the manifest so ipckeys can tell"
	}
	return "if it is the channel's, the manifest's owner is wrong"
}

// lookup returns the lowest index among the channels of q whose key file
// changed after ctime; -1 if there is none.
func (d *driftIndex) lookup(q driftQuery, ctime int64) int {
	b, ok := d.sorted[q]
	if !ok {
		b = &byCtime{}
		var idx []int
		for _, i := range d.byPlace[q.place] {
			if t := d.entries[i].Channel.Type; t != "" && t != q.facility {
				continue
			}
			if q.uid >= 0 && !slices.Contains(d.uids[i], uint32(q.uid)) {
				continue
			}
			idx = append(idx, i)
		}
		sort.SliceStable(idx, func(a, c int) bool {
			return d.entries[idx[a]].File.Ctime > d.entries[idx[c]].File.Ctime
		})
		low := -1
		for _, i := range idx {
			if low < 0 || i < low {
				low = i
			}
			b.ctime = append(b.ctime, d.entries[i].File.Ctime)
			b.firstIdx = append(b.firstIdx, low)
		}
		d.sorted[q] = b
	}
	// The channels changed after ctime are a prefix.
	n := sort.Search(len(b.ctime), func(j int) bool { return b.ctime[j] <= ctime })
	if n == 0 {
		return -1
	}
	return b.firstIdx[n-1]
}

func keyInUse(e *Entry, o *liveObject, k int32, live Live, one []int) (Finding, bool) {
	s := live.Snap
	holder := ownerOf(s, o)
	if e.Channel != nil && e.Channel.Owner != "" {
		uid, ok := live.OwnerUIDs[e.Channel.Owner]
		if ok && uid == o.perm.UID {
			return Finding{}, false
		}
		owner := e.Channel.Owner
		if !ok {
			owner += " (not a user on this host)"
		}
		return Finding{Code: KeyInUse, Severity: Error, Key: &k, Entries: one, Object: &o.ref,
			Message: fmt.Sprintf("%s should be owned by %s, but key %s is held by %s id %d owned by %s: another application holds this key; give the channel another key, or remove the object with ipcrm if it is a leftover",
				describe(e), owner, ftok.Hex(k), facilityName(o.ref.Facility), o.ref.ID, holder)}, true
	}
	return Finding{Code: KeyInUse, Severity: Info, Key: &k, Entries: one, Object: &o.ref,
		Message: fmt.Sprintf("key %s of %s is already held by %s id %d (%s, owned by %s): a previous instance of the service, or another application",
			ftok.Hex(k), describe(e), facilityName(o.ref.Facility), o.ref.ID, o.extra, holder)}, true
}

// AttachCount is the attach count of a segment that a manifest's nattch is
// held to: the distinct attached processes when all of them are known
// (processes true), and the kernel's nattch, which counts mappings, not
// processes, otherwise. The holders are all known when their mappings add
// up to the kernel's count, even if some other processes could not be
// read.
func AttachCount(s *ipcscan.Snapshot, sg *ipcscan.Segment) (n int, processes bool) {
	hs := s.Holders(sg.ID)
	if s.Attach != nil && ipcscan.Mappings(hs) == sg.Nattch {
		return len(hs), true
	}
	return sg.Nattch, false
}

// nattchMismatch compares the channel's expected attach count with the
// segment's AttachCount.
func nattchMismatch(e *Entry, o *liveObject, k int32, s *ipcscan.Snapshot, one []int) (Finding, bool) {
	r := *e.Channel.Nattch
	sg := o.shm
	hs := s.Holders(sg.ID)
	n, known := AttachCount(s, sg)
	compared := "nattch (mappings)"
	if known {
		compared = "attached processes"
	}
	if r.Contains(n) {
		return Finding{}, false
	}
	var who string
	switch {
	case known && len(hs) == 0:
		who = "no process is attached"
	case known:
		who = "attached: " + holderList(hs)
	case len(hs) > 0:
		who = "attached as far as readable: " + holderList(hs) + " (some processes could not be read)"
	default:
		who = "attached processes unknown (run as root)"
	}
	var why string
	switch {
	case n > r.Min:
		why = "if another service is attached it computed the same key: give one of them another key"
	case n > 0:
		why = "fewer than expected: processes of the channel exited or were killed (a parent killed without its workers, a worker not restarted); find out why and restart them"
	default:
		why = "nothing is attached: the service is down or has not attached yet; the segment stays until it is removed"
		if s.Stale(*sg) {
			why += fmt.Sprintf(", and its creator pid %d is gone too (see stale-object)", sg.CPID)
		}
	}
	return Finding{Code: NattchMismatch, Severity: Error, Key: &k, Entries: one, Object: &o.ref,
		Message: fmt.Sprintf("%s expects %s attached; segment id %d has nattch %d and %d distinct processes (%s), compared: %s; %s",
			describe(e), plural(r.String(), "process"), sg.ID, sg.Nattch, len(hs), who, compared, why)}, true
}

// unexpectedHolders finds the processes attached to a channel's segment
// that run none of the executables the channel declares: one finding each.
// A holder whose executable could not be read is left to LiveGaps.
func unexpectedHolders(e *Entry, o *liveObject, k int32, s *ipcscan.Snapshot, one func() []int) []Finding {
	var out []Finding
	for _, h := range s.Holders(o.shm.ID) {
		exe, ok := s.Attach.Exe(h.PID)
		if !ok || declaredExe(e.Channel.Exes, exe) {
			continue
		}
		key := k
		out = append(out, Finding{Code: UnexpectedUser, Severity: Warning, Key: &key, Entries: one(), Object: &o.ref,
			Message: fmt.Sprintf("%s declares %s, but process %d (%s, exe %s) is attached to its segment id %d (key %s): another program uses the channel's key (it computes the same key, or was given the segment's id); find out why, or add exe=%s to the channel if it is one of the channel's programs",
				describe(e), exeList(e.Channel.Exes), h.PID, h.Comm, display.Quote(exe), o.ref.ID, ftok.Hex(k), manifest.Escape(programPath(exe)))})
	}
	return out
}

// programPath is the executable a /proc/PID/exe link names: without the
// " (deleted)" the link ends with when the file was replaced or removed
// since the process started (an upgrade), as it still runs the program
// the path named.
func programPath(exe string) string { return strings.TrimSuffix(exe, " (deleted)") }

// declaredExe reports whether exe, as /proc/PID/exe shows it, is one of
// the declared executables.
func declaredExe(declared []string, exe string) bool {
	return slices.Contains(declared, programPath(exe))
}

// exeList writes a channel's executables as its manifest line does:
// "exe=/usr/bin/w exe=/usr/bin/r".
func exeList(exes []string) string {
	parts := make([]string, len(exes))
	for i, x := range exes {
		parts[i] = "exe=" + manifest.Escape(x)
	}
	return strings.Join(parts, " ")
}

// DrainWindow is how long after a newer segment with the same key was
// made a segment removed while attached counts as draining, not stuck: a
// graceful restart makes the new segment, removes the old one, and lets
// the old holders finish their work.
const DrainWindow = 30 * time.Minute

// segmentHygiene finds leaked segments and segments removed while attached.
//
// A segment removed while attached is draining, and only info, when the
// namespace also holds a segment with its original key that is attached,
// was made no earlier than it, and was made less than DrainWindow before
// the snapshot: the new generation of a graceful restart is up and the old
// holders are finishing. Without such a segment, or when it was made
// longer ago, the old holders are stuck on a segment no new process can
// find: a warning. (The kernel marks a process as exiting only for the
// moments of its exit, so a worker that drains looks like any other: the
// newer segment is what tells.)
func segmentHygiene(s *ipcscan.Snapshot) []Finding {
	current := map[int32]*ipcscan.Segment{} // the segment holding each key
	for i := range s.Shm {
		if sg := &s.Shm[i]; sg.Key != 0 && !sg.Removed() {
			current[sg.Key] = sg
		}
	}
	var out []Finding
	for i := range s.Shm {
		sg := &s.Shm[i]
		ref := ObjectRef{"shm", sg.ID, sg.Key}
		switch {
		case sg.Removed() && sg.Nattch > 0:
			key, known := s.OriginalKey(*sg)
			orig := "unknown (no readable process maps it)"
			var kp *int32
			if known {
				orig = ftok.Hex(key)
				kp = &key
				ref.Key = key
			}
			hs := s.Holders(sg.ID)
			who := "holders unknown (run as root)"
			if len(hs) > 0 {
				who = "held by " + holderList(hs)
			}
			f := Finding{Code: RemovedAttached, Severity: Warning, Key: kp, Object: &ref,
				Message: fmt.Sprintf("segment id %d (original key %s, %d bytes) was removed while attached and lives on with key 0 until its last holder detaches; %s; nattch %d: new processes cannot find it, so these holders no longer share with them: restart them",
					sg.ID, orig, sg.Size, who, sg.Nattch)}
			if n := current[key]; known && n != nil && n.Nattch > 0 && n.Ctime >= sg.Ctime && !s.Time.IsZero() {
				age := s.Time.Sub(time.Unix(n.Ctime, 0))
				if age < DrainWindow {
					f.Severity = Info
					f.Message = fmt.Sprintf("segment id %d (original key %s, %d bytes) was removed while attached and lives on with key 0 until its last holder detaches; %s; nattch %d. Segment id %d with the same key was made %s ago and is attached (nattch %d): a graceful restart, whose old holders are still draining; nothing to do, unless they are still attached %s after the new segment was made (then restart them)",
						sg.ID, orig, sg.Size, who, sg.Nattch, n.ID, span(age), n.Nattch, span(DrainWindow))
				} else {
					f.Message += fmt.Sprintf(". Segment id %d with the same key has been up and attached for %s: these holders should have let go of the old one long ago", n.ID, span(age))
				}
			}
			out = append(out, f)
		case s.Stale(*sg):
			k := sg.Key
			out = append(out, Finding{Code: StaleObject, Severity: Warning, Key: &k, Object: &ref,
				Message: fmt.Sprintf("segment id %d (key %s, %d bytes, owned by %s) has nothing attached and its creator pid %d is gone: leaked, System V IPC has no reference count; remove it with 'ipcrm -m %d' once nothing will attach again",
					sg.ID, ftok.Hex(sg.Key), sg.Size, ipcscan.UserName(sg.UID), sg.CPID, sg.ID)})
		}
	}
	return out
}

// span writes a duration for people: "40 seconds", "12 minutes",
// "3 hours", "2 days".
func span(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.FormatInt(n, 10) + " " + one + "s"
	}
	switch {
	case d < 2*time.Minute:
		return unit(int64(max(d, 0)/time.Second), "second")
	case d < 2*time.Hour:
		return unit(int64(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return unit(int64(d/time.Hour), "hour")
	}
	return unit(int64(d/(24*time.Hour)), "day")
}

// ownerOf names an object's owner and the process that made it (or last
// sent to it), so a person can tell a previous instance from another
// application.
func ownerOf(s *ipcscan.Snapshot, o *liveObject) string {
	who := "uid " + strconv.FormatUint(uint64(o.perm.UID), 10)
	if name := ipcscan.UserName(o.perm.UID); name != who[4:] {
		who = fmt.Sprintf("%s (uid %d)", name, o.perm.UID)
	}
	if o.cpid <= 0 {
		return who
	}
	role := "creator"
	if o.ref.Facility == "msg" {
		role = "last sender"
	}
	p := s.Procs[o.cpid]
	switch {
	case !p.Alive:
		return fmt.Sprintf("%s, %s pid %d (gone)", who, role, o.cpid)
	case p.Comm != "":
		return fmt.Sprintf("%s, %s pid %d (%s)", who, role, o.cpid, p.Comm)
	}
	return fmt.Sprintf("%s, %s pid %d", who, role, o.cpid)
}

func facilityName(f string) string {
	switch f {
	case "shm":
		return "shared-memory segment"
	case "sem":
		return "semaphore set"
	case "msg":
		return "message queue"
	}
	return "IPC object"
}

// plural writes a count expectation with its noun: "1 process",
// "2 processes", "1-3 processes".
func plural(count, noun string) string {
	if count == "1" {
		return count + " " + noun
	}
	return count + " " + noun + "es"
}

// holderList writes holders as "4242 (app) x3, 4243 (app)".
func holderList(hs []ipcscan.Holder) string {
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = fmt.Sprintf("%d (%s)", h.PID, h.Comm)
		if h.Mappings > 1 {
			parts[i] += fmt.Sprintf(" x%d", h.Mappings)
		}
	}
	return strings.Join(parts, ", ")
}
