package audit_test

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/manifest"
)

// randomEntries makes entries from a small world, so that every kind of
// grouping happens: few devices and inode bit patterns (collisions), hard
// and symbolic links (one file under several paths), paths given twice,
// channels on the same file, proj ids equal in their low byte, unusable
// paths.
func randomEntries(r *rand.Rand, n int) []audit.Entry {
	projs := []int{'l', 'm', 1, 257, 0, 255, -1}
	var entries []audit.Entry
	for i := range n {
		dev := uint64(0x800 + r.IntN(3)) // minors 0..2 of major 8
		if r.IntN(8) == 0 {
			dev += 0x100 // another major: the same device byte
		}
		ino := uint64(r.IntN(4))<<16 | uint64(r.IntN(3))
		f := ipcscan.KeyFile{File: ftok.File{Dev: dev, Ino: ino}, FSType: "ext4", Ctime: int64(r.IntN(5))}
		path := fmt.Sprintf("/k/%d-%d", dev, ino)
		if r.IntN(4) == 0 {
			path += "-link" // another name of the same file
		}
		if r.IntN(6) == 0 {
			path = fmt.Sprintf("/k/p%d", r.IntN(3)) // a path given twice, maybe as other files
		}
		f.Path = path
		e := audit.Entry{Path: path, Proj: projs[r.IntN(len(projs))], HasProj: r.IntN(10) != 0, File: f}
		if r.IntN(15) == 0 {
			e.Err, e.File = fs.ErrNotExist, ipcscan.KeyFile{Path: path}
		}
		if r.IntN(3) == 0 {
			types := []string{"", "shm", "sem", "msg"}
			e.Channel = &manifest.Channel{Name: fmt.Sprintf("c%d", i), Path: path, Proj: e.Proj, Type: types[r.IntN(4)], File: "m", Line: i + 1}
			e.HasProj = true
		}
		entries = append(entries, e)
	}
	return entries
}

// identity is the definition of a channel: a manifest channel by its name,
// a path by its file and proj.
func identity(e *audit.Entry) string {
	if e.Channel != nil {
		return "channel " + e.Channel.Name
	}
	return fmt.Sprintf("file %d:%d proj %d", e.File.Dev, e.File.Ino, e.Proj)
}

// describeRef and collisionMessageRef are how messages were written with
// fmt before they were written for speed: the wording must not change.
func describeRef(e *audit.Entry) string {
	var b strings.Builder
	if e.Channel != nil {
		fmt.Fprintf(&b, "channel %s (%s, ", e.Channel.Name, audit.Display(e.Path))
	} else {
		fmt.Fprintf(&b, "%s (", audit.Display(e.Path))
	}
	if e.HasProj {
		fmt.Fprintf(&b, "proj %s, ", projStringRef(e.Proj))
	}
	if e.OK() {
		fmt.Fprintf(&b, "dev %d:%d, ino %d = 0x%x", e.File.Major(), e.File.Minor(), e.File.Ino, e.File.Ino)
	} else {
		b.WriteString("unusable")
	}
	b.WriteString(")")
	return b.String()
}

func projStringRef(proj int) string {
	b := byte(proj)
	if b > ' ' && b < 0x7f {
		return fmt.Sprintf("%d '%c'", proj, b)
	}
	return fmt.Sprint(proj)
}

func collisionMessageRef(entries []audit.Entry, idx []int, key int32) string {
	var parts []string
	files := map[ftok.File]bool{}
	projs := map[int]bool{}
	ids := map[string]bool{}
	for _, i := range idx {
		e := &entries[i]
		files[e.File.File] = true
		projs[e.Proj] = true
		if id := identity(e); !ids[id] {
			ids[id] = true
			parts = append(parts, describeRef(e))
		}
	}
	var why string
	switch {
	case len(files) > 1:
		p := ftok.Decode(key)
		why = fmt.Sprintf("different files with the same device byte 0x%02x and inode low 16 bits 0x%04x", p.DevByte, p.InoBits)
	case len(projs) > 1:
		why = "the same file with proj ids that agree in their low byte, the only part ftok keeps"
	default:
		why = "differently named channels on the same file and proj id"
	}
	return fmt.Sprintf("%s get the same key %s (%s): their programs would share one IPC object without any error; give one of them another proj id or key file",
		strings.Join(parts, ", "), fmt.Sprintf("0x%08x", uint32(key)), why)
}

// referenceGroups is the definition of the grouping findings, written the
// slow, obvious way (every pair of groups compared): key collisions,
// fingerprint collisions not already reported as one key collision, and
// same-file pairs.
func referenceGroups(entries []audit.Entry) []string {
	var out []string
	inManifest := map[string]bool{}
	for i := range entries {
		e := &entries[i]
		if e.Channel != nil && e.OK() {
			inManifest[fmt.Sprintf("file %d:%d proj %d", e.File.Dev, e.File.Ino, e.Proj)] = true
		}
	}
	// Groups in the order of their first entry.
	group := func(key func(e *audit.Entry) (string, bool)) [][]int {
		var keys []string
		byKey := map[string][]int{}
		for i := range entries {
			k, ok := key(&entries[i])
			if !ok {
				continue
			}
			if _, seen := byKey[k]; !seen {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], i)
		}
		var gs [][]int
		for _, k := range keys {
			gs = append(gs, byKey[k])
		}
		return gs
	}
	var keyGroups [][]int
	for _, idx := range group(func(e *audit.Entry) (string, bool) {
		k, _ := e.Key()
		ok := e.OK() && e.HasProj && !(e.Channel == nil && inManifest[identity(e)]) && k != 0
		return fmt.Sprint(k), ok
	}) {
		ids := map[string]bool{}
		for _, i := range idx {
			ids[identity(&entries[i])] = true
		}
		if len(ids) > 1 {
			k, _ := entries[idx[0]].Key()
			keyGroups = append(keyGroups, idx)
			out = append(out, fmt.Sprintf("key-collision %v %s", idx, collisionMessageRef(entries, idx, k)))
		}
	}
	for _, idx := range group(func(e *audit.Entry) (string, bool) { return e.File.Fingerprint().String(), e.OK() }) {
		var shown []int
		files := map[ftok.File]bool{}
		for _, i := range idx {
			if !files[entries[i].File.File] {
				files[entries[i].File.File] = true
				shown = append(shown, i)
			}
		}
		covered := false
		for _, kg := range keyGroups {
			in := map[ftok.File]bool{}
			for _, i := range kg {
				in[entries[i].File.File] = true
			}
			all := true
			for f := range files {
				all = all && in[f]
			}
			covered = covered || all
		}
		if len(files) > 1 && !covered {
			out = append(out, fmt.Sprintf("fingerprint-collision %v", shown))
		}
	}
	for _, idx := range group(func(e *audit.Entry) (string, bool) {
		return fmt.Sprint(e.File.File), e.OK() && e.Channel == nil
	}) {
		var shown []int
		paths := map[string]bool{}
		for _, i := range idx {
			if !paths[entries[i].Path] {
				paths[entries[i].Path] = true
				shown = append(shown, i)
			}
		}
		if len(shown) > 1 {
			out = append(out, fmt.Sprintf("same-file %v", shown))
		}
	}
	slices.Sort(out)
	return out
}

// TestGroupingMatchesDefinition holds Check's grouping findings, made in
// time linear in the entries, against their definition computed the slow
// way, on thousands of random worlds.
func TestGroupingMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	seen := map[string]int{}
	for round := range 2000 {
		entries := randomEntries(r, 1+r.IntN(40))
		var got []string
		for _, f := range audit.Check(entries) {
			seen[f.Code]++
			switch f.Code {
			case audit.KeyCollision:
				got = append(got, fmt.Sprintf("%s %v %s", f.Code, f.Entries, f.Message))
			case audit.FingerprintCollision, audit.SameFile:
				got = append(got, fmt.Sprintf("%s %v", f.Code, f.Entries))
			}
		}
		slices.Sort(got)
		if want := referenceGroups(entries); !slices.Equal(got, want) {
			t.Fatalf("round %d: grouping findings differ\n got %q\nwant %q", round, got, want)
		}
	}
	// The worlds did make every kind, or the comparison proves little.
	for _, code := range []string{audit.KeyCollision, audit.FingerprintCollision, audit.SameFile} {
		if seen[code] < 100 {
			t.Errorf("only %d %s findings in the random worlds", seen[code], code)
		}
	}
}

// TestKeyDriftMatchesDefinition holds the key-drift index against the
// definition: for each live object whose key no configured entry has, the
// candidates are the channels with its proj byte and device byte, a type
// that fits, and a key file changed after the object was made; it is
// key-drift of the first candidate (in entry order) with evidence (a live
// object holding the channel's key, of a type that fits, made or owned by
// the object's owner or creator), else key-coincidence of the first
// candidate.
func TestKeyDriftMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	drifts, coincidences := 0, 0
	for round := range 500 {
		entries := randomEntries(r, 1+r.IntN(60))
		snap := &ipcscan.Snapshot{Procs: map[int]ipcscan.Proc{}}
		for id := range r.IntN(12) {
			key := int32(uint32(r.IntN(3))<<24 | uint32(r.IntN(3))<<16 | uint32(r.IntN(4)))
			if r.IntN(2) == 0 {
				key = int32(uint32('l')<<24 | uint32(r.IntN(3))<<16 | uint32(r.IntN(5)))
			}
			perm := ipcscan.Perm{Key: key, ID: id, UID: uint32(r.IntN(2)), CUID: uint32(r.IntN(2))}
			ctime := int64(r.IntN(5))
			switch r.IntN(3) {
			case 0:
				snap.Shm = append(snap.Shm, ipcscan.Segment{Perm: perm, Ctime: ctime})
			case 1:
				snap.Sem = append(snap.Sem, ipcscan.SemSet{Perm: perm, Ctime: ctime})
			default:
				snap.Msg = append(snap.Msg, ipcscan.Queue{Perm: perm, Ctime: ctime})
			}
		}
		// Some channels' current keys are live too: the evidence.
		for id := range r.IntN(6) {
			k, ok := entries[r.IntN(len(entries))].Key()
			if !ok || k == 0 {
				continue
			}
			perm := ipcscan.Perm{Key: k, ID: 100 + id, UID: uint32(r.IntN(2)), CUID: uint32(r.IntN(2))}
			switch r.IntN(3) {
			case 0:
				snap.Shm = append(snap.Shm, ipcscan.Segment{Perm: perm, Ctime: 9})
			case 1:
				snap.Sem = append(snap.Sem, ipcscan.SemSet{Perm: perm, Ctime: 9})
			default:
				snap.Msg = append(snap.Msg, ipcscan.Queue{Perm: perm, Ctime: 9})
			}
		}
		var got []string
		for _, f := range audit.CheckLive(entries, audit.Live{Snap: snap}) {
			if f.Code == audit.KeyDrift || f.Code == audit.KeyCoincidence {
				got = append(got, fmt.Sprintf("%s %s %d %v", f.Code, f.Object.Facility, f.Object.ID, f.Entries))
			}
		}
		configured := map[int32]bool{}
		for i := range entries {
			if k, ok := entries[i].Key(); ok && entries[i].OK() {
				configured[k] = true
			}
		}
		var want []string
		type made struct {
			fac  string
			perm ipcscan.Perm
		}
		live := map[int32][]made{}
		for _, s := range snap.Shm {
			live[s.Key] = append(live[s.Key], made{"shm", s.Perm})
		}
		for _, s := range snap.Sem {
			live[s.Key] = append(live[s.Key], made{"sem", s.Perm})
		}
		for _, q := range snap.Msg {
			live[q.Key] = append(live[q.Key], made{"msg", q.Perm})
		}
		check := func(fac string, id int, key int32, ctime int64) {
			if key == 0 || configured[key] {
				return
			}
			var o ipcscan.Perm
			for _, m := range live[key] {
				if m.fac == fac && m.perm.ID == id {
					o = m.perm
				}
			}
			p := ftok.Decode(key)
			first := -1
			for i := range entries {
				e := &entries[i]
				if e.Channel == nil || !e.OK() || e.File.Ctime == 0 || uint8(e.Proj) != p.Proj ||
					uint8(e.File.Dev) != p.DevByte || e.File.Ctime <= ctime ||
					e.Channel.Type != "" && e.Channel.Type != fac {
					continue
				}
				if first < 0 {
					first = i
				}
				k, _ := e.Key()
				for _, m := range live[k] {
					if (e.Channel.Type == "" || m.fac == e.Channel.Type) &&
						(m.perm.UID == o.UID || m.perm.UID == o.CUID || m.perm.CUID == o.UID || m.perm.CUID == o.CUID) {
						want = append(want, fmt.Sprintf("%s %s %d %v", audit.KeyDrift, fac, id, []int{i}))
						return
					}
				}
			}
			if first >= 0 {
				want = append(want, fmt.Sprintf("%s %s %d %v", audit.KeyCoincidence, fac, id, []int{first}))
			}
		}
		for _, s := range snap.Shm {
			check("shm", s.ID, s.Key, s.Ctime)
		}
		for _, s := range snap.Sem {
			check("sem", s.ID, s.Key, s.Ctime)
		}
		for _, q := range snap.Msg {
			check("msg", q.ID, q.Key, q.Ctime)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: key-drift findings differ\n got %q\nwant %q", round, got, want)
		}
		for _, g := range got {
			if strings.HasPrefix(g, audit.KeyDrift+" ") {
				drifts++
			} else {
				coincidences++
			}
		}
	}
	if drifts < 10 || coincidences < 100 {
		t.Errorf("only %d key-drift and %d key-coincidence findings in the random worlds", drifts, coincidences)
	}
}

// TestSuggestMessageWording holds the suggestion text, written without
// fmt for speed, to its wording written with fmt.
func TestSuggestMessageWording(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 17))
	for round := range 300 {
		entries := randomEntries(r, 2+r.IntN(30))
		findings := audit.Check(entries)
		before := make([]string, len(findings))
		for i := range findings {
			before[i] = findings[i].Message
		}
		audit.Suggest(findings, entries, nil)
		for n := range findings {
			f := &findings[n]
			var parts []string
			var offers []string
			last := -1
			flush := func() {
				if len(offers) > 0 {
					e := &entries[last]
					who := audit.Display(e.Path)
					if e.Channel != nil {
						who = "channel " + e.Channel.Name
					}
					parts = append(parts, fmt.Sprintf("give %s proj %s; every program using %s must change its proj id together",
						who, strings.Join(offers, " or "), who))
				}
				offers = nil
			}
			var rekeyed []string
			for _, s := range f.Suggestions {
				if s.Kind == audit.FixRekey {
					rekeyed = append(rekeyed, audit.Display(entries[s.Entry].Path))
					continue
				}
				if s.Entry != last {
					flush()
					last = s.Entry
				}
				offers = append(offers, fmt.Sprintf("%s (key 0x%08x)", projStringRef(s.Proj), uint32(s.Key)))
			}
			flush()
			want := before[n]
			switch {
			case len(rekeyed) > 0 && len(parts) > 0:
				want += ". Suggested: ipckeys rekey " + strings.Join(rekeyed, " ") + " (a new inode for the key file, so a new key: no program changes); or " + strings.Join(parts, "; ")
			case len(rekeyed) > 0:
				want += ". Suggested: ipckeys rekey " + strings.Join(rekeyed, " ") + " (a new inode for the key file, so a new key: no program changes)"
			case len(parts) > 0:
				want += ". Suggested: " + strings.Join(parts, "; ")
			}
			if f.Message != want {
				t.Fatalf("round %d: message\n got %s\nwant %s", round, f.Message, want)
			}
		}
	}
}

// TestCheckSameOnEveryCPU: Check and Suggest split large scans across the
// CPUs; the findings, their order and their messages must be those of one
// CPU. The scan has 60,000 paths with random inode numbers (thousands of
// collisions), and channels on some of the same files, with the same and
// other proj ids.
func TestCheckSameOnEveryCPU(t *testing.T) {
	entries := directoryEntries(60_000)
	for i := 0; i < len(entries); i += 7 {
		f := entries[i].File
		for _, proj := range []int{'l', 'q'} {
			c := &manifest.Channel{Name: fmt.Sprintf("c%d-%c", i, proj), Path: f.Path, Proj: proj, File: "m", Line: i + 1}
			entries = append(entries, audit.Entry{Channel: c, Path: f.Path, Proj: proj, HasProj: true, File: f})
		}
	}
	run := func(procs int) []audit.Finding {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		f := audit.Check(entries)
		audit.Suggest(f, entries, nil)
		return f
	}
	one, many := run(1), run(4)
	if len(one) < 5000 {
		t.Fatalf("only %d findings: the scan does not split", len(one))
	}
	if !reflect.DeepEqual(one, many) {
		for i := range min(len(one), len(many)) {
			if !reflect.DeepEqual(one[i], many[i]) {
				t.Fatalf("finding %d differs:\n one CPU %+v\nfour CPUs %+v", i, one[i], many[i])
			}
		}
		t.Fatalf("%d findings on one CPU, %d on four", len(one), len(many))
	}
}
