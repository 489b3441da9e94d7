package fleet

import (
	"slices"
	"sort"
	"strconv"
)

// A fleet of 10,000 hosts with 1,000 entries each has ten million cells:
// held as the reports' entries they would take gigabytes. What the hosts
// share (a channel's identity, its device, file system, error and live
// state) is interned once per table; what differs per host is held in a
// cellRec of 16 bytes: the inode and the fingerprint, the key being the
// proj id's byte and the fingerprint when scan wrote it so (ftok's key). A
// Cell is made from a cellRec only while a renderer prints it.

// table interns what the entries of many reports repeat. One goroutine
// uses a table at a time.
type table struct {
	metas   []chanMeta
	metaIdx map[chanMeta]uint32
	attrs   []cellAttrs
	attrIdx map[cellAttrs]uint32
	// channel is, per attrs, its channel's index in the View being
	// merged (Merge sets it).
	channel []uint32
	scratch []cellRec // the entries of the report being decoded
}

// chanMeta is a channel as one entry names it.
type chanMeta struct {
	id, name, kind, file, setting, path string
	line, proj                          int
	hasProj                             bool
}

// cellAttrs are what an entry shares with the same channel's entry on
// other hosts. key and fp are set only when a cellRec cannot hold them.
type cellAttrs struct {
	meta                                        uint32 // index in table.metas
	key, fp, dev, fsType, err, live, liveDetail string
	held                                        bool // the report says what holds the key live
}

// cellRec is one entry of a host's report.
type cellRec struct {
	inoLow, inoHigh uint32
	attr            uint32 // index in table.attrs
	bits            uint32 // the fingerprint (low 24 bits, with recFP) and the flags
}

const (
	recFP  = 1 << 24 // the fingerprint is bits&fpMask
	recKey = 1 << 25 // the key is ftok's of the proj id and the fingerprint
	recIno = 1 << 26 // the inode is inoHigh<<32 | inoLow
	fpMask = 1<<24 - 1
)

func (r *cellRec) ino() uint64 { return uint64(r.inoHigh)<<32 | uint64(r.inoLow) }

func newTable() *table {
	return &table{metaIdx: map[chanMeta]uint32{}, attrIdx: map[cellAttrs]uint32{}}
}

// add interns an entry.
func (t *table) add(e *Entry) cellRec {
	var r cellRec
	id, name := identity(e)
	m := chanMeta{id: id, name: name, kind: "path", path: pathName(e)}
	if e.Proj != nil {
		m.proj, m.hasProj = *e.Proj, true
	}
	switch {
	case e.Config != "":
		m.kind, m.file, m.line, m.setting = "config", Clean(e.Config), e.Line, Clean(e.Setting)
	case e.Name != "":
		m.kind, m.file, m.line = "manifest", Clean(e.Manifest), e.Line
	}
	mi, ok := t.metaIdx[m]
	if !ok {
		mi = uint32(len(t.metas))
		t.metas = append(t.metas, m)
		t.metaIdx[m] = mi
	}
	a := cellAttrs{meta: mi, dev: Clean(e.Dev), fsType: Clean(e.FSType), err: Clean(e.Error)}
	fp, fpOK := hexOf(e.Fingerprint, 6)
	if fpOK {
		r.bits |= recFP | uint32(fp)
	} else {
		a.fp = Clean(e.Fingerprint)
	}
	if e.Key != nil {
		if k, ok := hexOf(*e.Key, 8); ok && fpOK && m.hasProj && k == uint64(m.proj&0xff)<<24|fp {
			r.bits |= recKey
		} else {
			a.key = Clean(*e.Key)
		}
	}
	if e.Ino != nil {
		r.inoLow, r.inoHigh, r.bits = uint32(*e.Ino), uint32(*e.Ino>>32), r.bits|recIno
	}
	if e.Live != nil {
		a.held = true
		a.live, a.liveDetail = liveState(e.Live.Held)
	}
	ai, ok := t.attrIdx[a]
	if !ok {
		ai = uint32(len(t.attrs))
		t.attrs = append(t.attrs, a)
		t.attrIdx[a] = ai
	}
	r.attr = ai
	return r
}

// hexOf reads s if it is "0x" and digits lower-case hex digits, as scan
// writes keys (8) and fingerprints (6).
func hexOf(s string, digits int) (uint64, bool) {
	if len(s) != 2+digits || s[0] != '0' || s[1] != 'x' {
		return 0, false
	}
	var v uint64
	for i := 2; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

func hexString(v uint64, digits int) string {
	s := strconv.FormatUint(v, 16)
	for len(s) < digits {
		s = "0" + s
	}
	return "0x" + s
}

// keyOf is a cell's key as the report wrote it ("" for none).
func (t *table) keyOf(r *cellRec) string {
	a := &t.attrs[r.attr]
	if r.bits&recKey != 0 {
		proj := uint64(t.metas[a.meta].proj & 0xff)
		return hexString(proj<<24|uint64(r.bits&fpMask), 8)
	}
	return a.key
}

// cell makes the Cell of an entry on a host.
func (t *table) cell(h *Host, r *cellRec) *Cell {
	a := &t.attrs[r.attr]
	c := &Cell{Host: h.Name, Present: true, Key: t.keyOf(r), Dev: a.dev, Fingerprint: a.fp, FSType: a.fsType, Error: a.err}
	if r.bits&recFP != 0 {
		c.Fingerprint = hexString(uint64(r.bits&fpMask), 6)
	}
	if r.bits&recIno != 0 {
		ino := r.ino()
		c.Ino = &ino
	}
	c.Live = t.live(h, r)
	if a.held && !h.Static && h.LiveChecked {
		c.LiveDetail = a.liveDetail
	}
	return c
}

// live is the live state of an entry on a host, as compared across hosts.
func (t *table) live(h *Host, r *cellRec) string {
	a := &t.attrs[r.attr]
	switch {
	case h.Static:
		return "not checked (--static)"
	case !h.LiveChecked:
		return "not checked"
	case a.held:
		return a.live
	case a.err != "" || (r.bits&recKey == 0 && a.key == ""):
		return "no key"
	}
	return "not reported" // a report from before entries said it
}

// field is the value of one of the Compared fields of an entry on a host;
// it is Field of the entry's Cell, without making the Cell.
func (t *table) field(h *Host, r *cellRec, name string) string {
	a := &t.attrs[r.attr]
	switch name {
	case "present":
		return "true"
	case "key":
		return t.keyOf(r)
	case "dev":
		return a.dev
	case "fs_type":
		return a.fsType
	case "live":
		return t.live(h, r)
	case "error":
		return a.err
	}
	return ""
}

// hostCells are the entries of a checked host, one per channel, ordered
// by channel (after order).
type hostCells struct {
	tab  *table
	recs []cellRec
}

// find returns the host's entry of channel ch, or nil.
func (hc *hostCells) find(ch int) *cellRec {
	at := hc.tab.channel
	i := sort.Search(len(hc.recs), func(i int) bool { return int(at[hc.recs[i].attr]) >= ch })
	if i < len(hc.recs) && int(at[hc.recs[i].attr]) == ch {
		return &hc.recs[i]
	}
	return nil
}

// order sorts a host's entries by channel, once table.channel is set,
// keeping the first entry of a channel a report lists twice.
func (hc *hostCells) order() {
	at := hc.tab.channel
	slices.SortStableFunc(hc.recs, func(a, b cellRec) int { return int(at[a.attr]) - int(at[b.attr]) })
	hc.recs = slices.CompactFunc(hc.recs, func(a, b cellRec) bool { return at[a.attr] == at[b.attr] }) // the first counts
}

// take hands the report's entries to a host of the merge: the report no
// longer holds them.
func (r *Report) take() *hostCells {
	hc := &hostCells{tab: r.tab, recs: r.recs}
	if !r.hasRecs {
		// Decoded whole: its entries are interned now.
		hc.tab = newTable()
		for i := range r.Entries {
			hc.recs = append(hc.recs, hc.tab.add(&r.Entries[i]))
		}
	}
	r.recs = nil
	return hc
}
