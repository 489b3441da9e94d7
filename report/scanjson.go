package report

import (
	"bytes"
	"encoding/json"
	"io"
	"runtime"
	"strconv"
	"sync/atomic"
	"unicode/utf8"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ftok"
)

// WriteScanJSON writes the JSON report of r as it goes: byte for byte what
// WriteJSON writes for r.Scan(), without holding the document, or a copy
// of every entry, in memory. A scan of 100,000 paths with thousands of
// collisions makes a report of about 100 MB; encoding it whole took ten
// times the memory of the scan itself. The document is encoded in pieces
// of about a thousand entries, on every CPU, and written in order.
func WriteScanJSON(w io.Writer, r *Result) error {
	const entriesPerPiece, findingsPerPiece = 1024, 64
	pieces := []piece{func(j *scanWriter) error {
		j.str("{\n  \"schema\": ")
		j.buf = appendJSONString(j.buf, Schema)
		if r.Host != nil {
			j.str(",\n  \"host\": ")
			if err := j.indented(r.Host, "  "); err != nil {
				return err
			}
		}
		if r.Static {
			j.str(",\n  \"static\": true")
		}
		if len(r.Inputs) > 0 {
			j.str(",\n  \"inputs\": ")
			if err := j.indented(r.Inputs, "  "); err != nil {
				return err
			}
		}
		j.str(",\n  \"entries\": [")
		return nil
	}}
	for lo := 0; lo < len(r.Entries); lo += entriesPerPiece {
		hi := min(lo+entriesPerPiece, len(r.Entries))
		pieces = append(pieces, func(j *scanWriter) error {
			for i := lo; i < hi; i++ {
				if i > 0 {
					j.str(",")
				}
				j.str("\n    ")
				j.entry(&r.Entries[i], &topEntryKeys)
			}
			return nil
		})
	}
	pieces = append(pieces, func(j *scanWriter) error {
		if len(r.Entries) > 0 {
			j.str("\n  ")
		}
		j.str("],\n  \"findings\": [")
		return nil
	})
	for lo := 0; lo < len(r.Findings); lo += findingsPerPiece {
		hi := min(lo+findingsPerPiece, len(r.Findings))
		pieces = append(pieces, func(j *scanWriter) error {
			for n := lo; n < hi; n++ {
				if n > 0 {
					j.str(",")
				}
				j.str("\n    ")
				if err := j.finding(&r.Findings[n]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	pieces = append(pieces, func(j *scanWriter) error {
		if len(r.Findings) > 0 {
			j.str("\n  ")
		}
		j.str("],\n  \"live\": ")
		if err := j.indented(r.Live, "  "); err != nil {
			return err
		}
		j.str(",\n  \"summary\": ")
		if err := j.indented(r.Summary(), "  "); err != nil {
			return err
		}
		j.str("\n}\n")
		return nil
	})
	var held map[int32][]Held
	if r.Snap != nil {
		held = heldByKey(r.Snap)
	}
	return writePieces(w, r.Entries, held, pieces)
}

// piece appends one part of the document.
type piece func(j *scanWriter) error

// scanWriter appends one piece of the document to buf.
type scanWriter struct {
	entries []audit.Entry
	held    map[int32][]Held // the live objects by key; nil when not checked
	buf     []byte
}

func (j *scanWriter) str(s string) { j.buf = append(j.buf, s...) }

// writePieces encodes the pieces and writes them in order: with more than
// one CPU, workers encode the next pieces while this goroutine writes,
// with a bounded number of pieces in flight.
func writePieces(w io.Writer, entries []audit.Entry, held map[int32][]Held, pieces []piece) error {
	workers := runtime.GOMAXPROCS(0)
	if workers < 2 || len(pieces) < 4 {
		j := scanWriter{entries: entries, held: held}
		for _, p := range pieces {
			if err := p(&j); err != nil {
				return err
			}
			if len(j.buf) >= 1<<16 {
				if _, err := w.Write(j.buf); err != nil {
					return err
				}
				j.buf = j.buf[:0]
			}
		}
		_, err := w.Write(j.buf)
		return err
	}
	type result struct {
		buf  []byte
		err  error
		done chan struct{}
	}
	type job struct {
		p   piece
		res *result
	}
	results := make(chan *result, 2*workers) // in document order
	jobs := make(chan job)
	var stop atomic.Bool // the writer failed: encode nothing more
	free := make(chan []byte, 3*workers)
	go func() {
		for _, p := range pieces {
			res := &result{done: make(chan struct{})}
			results <- res
			jobs <- job{p, res}
		}
		close(jobs)
		close(results)
	}()
	for range workers {
		go func() {
			j := scanWriter{entries: entries, held: held}
			for jb := range jobs {
				if !stop.Load() {
					select {
					case j.buf = <-free:
					default:
						j.buf = nil
					}
					jb.res.err = jb.p(&j)
					jb.res.buf = j.buf
				}
				close(jb.res.done)
			}
		}()
	}
	var first error
	for res := range results {
		<-res.done
		if first == nil {
			first = res.err
		}
		if first == nil {
			_, first = w.Write(res.buf)
		}
		if first != nil {
			stop.Store(true)
		}
		select {
		case free <- res.buf[:0]:
		default:
		}
	}
	return first
}

// indented appends v as encoding/json indents it at this depth: for the
// small, rarely present members, which need no speed.
func (j *scanWriter) indented(v any, indent string) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent(indent, "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	j.buf = append(j.buf, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
	return nil
}

// field starts a member on its own line: ",\n" unless it is the first,
// the indent, the quoted name and ": ".
func (j *scanWriter) field(first *bool, indent, name string) {
	if *first {
		*first = false
		j.buf = append(j.buf, '\n')
	} else {
		j.buf = append(j.buf, ",\n"...)
	}
	j.buf = append(j.buf, indent...)
	j.buf = append(j.buf, '"')
	j.buf = append(j.buf, name...)
	j.buf = append(j.buf, `": `...)
}

// entryKeys are the member starts of an entry at one depth, each
// ",\n", the indent, the quoted name and ": ": an entry is written
// hundreds of thousands of times in a large report.
type entryKeys struct {
	indent                                                string // of the closing brace
	name, manifest, config, setting, live                 string
	line, pattern, path, pathQuoted, proj                 string
	projByte, key, keyDecimal, dev, devByte, ino, inoBits string
	fingerprint, fsType, typ, nattch, owner, error        string
	// withLive: the entries array's entries carry the live objects that
	// hold their key; the copies in findings do not.
	withLive bool
}

func newEntryKeys(indent string) entryKeys {
	k := func(name string) string { return ",\n" + indent + "  \"" + name + "\": " }
	return entryKeys{
		indent: indent,
		name:   k("name"), manifest: k("manifest"), config: k("config"), setting: k("setting"), live: k("live"),
		line: k("line"), pattern: k("pattern"),
		path: k("path"), pathQuoted: k("path_quoted"), proj: k("proj"), projByte: k("proj_byte"),
		key: k("key"), keyDecimal: k("key_decimal"), dev: k("dev"), devByte: k("dev_byte"),
		ino: k("ino"), inoBits: k("ino_bits"), fingerprint: k("fingerprint"), fsType: k("fs_type"),
		typ: k("type"), nattch: k("nattch"), owner: k("owner"), error: k("error"),
	}
}

// The two depths entries appear at: the entries array, and a finding's.
var (
	topEntryKeys     = withLive(newEntryKeys("    "))
	findingEntryKeys = newEntryKeys("        ")
)

func withLive(k entryKeys) entryKeys {
	k.withLive = true
	return k
}

// key starts a member: without its comma when it is the object's first.
func (j *scanWriter) key(first *bool, k string) {
	if *first {
		*first = false
		k = k[1:]
	}
	j.buf = append(j.buf, k...)
}

// entry appends what NewEntry(e) encodes to, its object opening at the
// current position.
func (j *scanWriter) entry(e *audit.Entry, keys *entryKeys) {
	first := true
	j.buf = append(j.buf, '{')
	s := func(k, v string) {
		if v != "" {
			j.key(&first, k)
			j.buf = appendJSONString(j.buf, v)
		}
	}
	if c := e.Channel; c != nil {
		s(keys.name, c.Name)
		if c.FromConfig() {
			s(keys.config, c.File)
			s(keys.setting, c.Setting)
		} else {
			s(keys.manifest, c.File)
		}
		if c.Line != 0 {
			j.key(&first, keys.line)
			j.buf = strconv.AppendInt(j.buf, int64(c.Line), 10)
		}
	}
	s(keys.pattern, e.Pattern)
	j.key(&first, keys.path)
	if !plainJSON(e.Path) && !utf8.ValidString(e.Path) {
		j.buf = appendJSONString(j.buf, strconv.Quote(e.Path))
		j.key(&first, keys.pathQuoted)
		j.buf = append(j.buf, "true"...)
	} else {
		j.buf = appendJSONString(j.buf, e.Path)
	}
	j.key(&first, keys.proj)
	if e.HasProj {
		j.buf = strconv.AppendInt(j.buf, int64(e.Proj), 10)
		j.key(&first, keys.projByte)
		j.buf = strconv.AppendInt(j.buf, int64(e.Proj&0xff), 10)
	} else {
		j.buf = append(j.buf, "null"...)
	}
	j.key(&first, keys.key)
	k, hasKey := e.Key()
	if hasKey {
		j.buf = append(ftok.AppendHex(append(j.buf, '"'), k), '"')
	} else {
		j.buf = append(j.buf, "null"...)
	}
	j.key(&first, keys.keyDecimal)
	if hasKey {
		j.buf = strconv.AppendInt(j.buf, int64(k), 10)
	} else {
		j.buf = append(j.buf, "null"...)
	}
	if e.OK() && !e.Static {
		f := &e.File
		j.key(&first, keys.dev)
		j.buf = append(j.buf, '"')
		j.buf = strconv.AppendUint(j.buf, uint64(f.Major()), 10)
		j.buf = append(j.buf, ':')
		j.buf = strconv.AppendUint(j.buf, uint64(f.Minor()), 10)
		j.buf = append(j.buf, '"')
		j.key(&first, keys.devByte)
		j.buf = strconv.AppendUint(j.buf, f.Dev&0xff, 10)
		j.key(&first, keys.ino)
		j.buf = strconv.AppendUint(j.buf, f.Ino, 10)
		j.key(&first, keys.inoBits)
		j.buf = strconv.AppendUint(j.buf, f.Ino&0xffff, 10)
		j.key(&first, keys.fingerprint)
		j.buf = appendHex(append(j.buf, `"0x`...), uint64(f.Fingerprint()), 6)
		j.buf = append(j.buf, '"')
		s(keys.fsType, f.FSType)
	}
	if c := e.Channel; c != nil {
		s(keys.typ, c.Type)
		if c.Nattch != nil {
			s(keys.nattch, c.Nattch.String())
		}
		s(keys.owner, c.Owner)
	}
	if !e.OK() {
		s(keys.error, e.Err.Error())
	}
	if k, ok := e.Key(); ok && e.OK() && j.held != nil && keys.withLive {
		j.key(&first, keys.live)
		// As encoding/json indents EntryLive at this depth.
		_ = j.indented(EntryLive{Held: append([]Held{}, j.held[k]...)}, keys.indent+"  ")
	}
	j.buf = append(j.buf, '\n')
	j.buf = append(j.buf, keys.indent...)
	j.buf = append(j.buf, '}')
}

// finding appends one finding at the depth of the findings array.
func (j *scanWriter) finding(f *audit.Finding) error {
	const in = "      "
	first := true
	j.buf = append(j.buf, '{')
	j.field(&first, in, "code")
	j.buf = appendJSONString(j.buf, f.Code)
	j.field(&first, in, "severity")
	j.buf = appendJSONString(j.buf, f.Severity.String())
	if f.Key != nil {
		j.field(&first, in, "key")
		j.buf = appendHex(append(j.buf, `"0x`...), uint64(uint32(*f.Key)), 8)
		j.buf = append(j.buf, '"')
	}
	j.field(&first, in, "message")
	j.buf = appendJSONString(j.buf, f.Message)
	j.field(&first, in, "entries")
	j.buf = append(j.buf, '[')
	for n, i := range f.Entries {
		if n > 0 {
			j.buf = append(j.buf, ',')
		}
		j.buf = append(j.buf, "\n        "...)
		j.entry(&j.entries[i], &findingEntryKeys)
	}
	if len(f.Entries) > 0 {
		j.buf = append(j.buf, "\n"+in...)
	}
	j.buf = append(j.buf, ']')
	if o := f.Object; o != nil {
		j.field(&first, in, "object")
		if err := j.indented(ObjectRef{Facility: o.Facility, ID: o.ID, Key: ftok.Hex(o.Key)}, in); err != nil {
			return err
		}
	}
	if sp := f.Suppressed; sp != nil {
		j.field(&first, in, "suppressed")
		if err := j.indented(SuppressedBy{Reason: sp.Reason, Expires: sp.Expires, File: sp.File, Line: sp.Line}, in); err != nil {
			return err
		}
	}
	if w := f.Where; w != nil {
		if w.File != "" {
			j.field(&first, in, "file")
			j.buf = appendJSONString(j.buf, w.File)
		}
		if w.Line != 0 {
			j.field(&first, in, "line")
			j.buf = strconv.AppendInt(j.buf, int64(w.Line), 10)
		}
	}
	if len(f.Suggestions) > 0 {
		j.field(&first, in, "suggestions")
		j.buf = append(j.buf, '[')
		for n, sg := range f.Suggestions {
			if n > 0 {
				j.buf = append(j.buf, ',')
			}
			e := &j.entries[sg.Entry]
			j.buf = append(j.buf, "\n        {"...)
			sfirst := true
			j.field(&sfirst, "          ", "kind")
			j.buf = appendJSONString(j.buf, sg.Kind.String())
			if name := e.Name(); name != "" {
				j.field(&sfirst, "          ", "channel")
				j.buf = appendJSONString(j.buf, name)
			}
			j.field(&sfirst, "          ", "path")
			j.buf = appendJSONString(j.buf, e.Path)
			if sg.Kind == audit.FixRekey {
				j.field(&sfirst, "          ", "command")
				j.buf = appendJSONString(j.buf, audit.RekeyCommand(e))
				j.buf = append(j.buf, "\n        }"...)
				continue
			}
			j.field(&sfirst, "          ", "proj")
			j.buf = strconv.AppendInt(j.buf, int64(sg.Proj), 10)
			j.field(&sfirst, "          ", "key")
			j.buf = appendHex(append(j.buf, `"0x`...), uint64(uint32(sg.Key)), 8)
			j.buf = append(j.buf, "\"\n        }"...)
		}
		j.buf = append(j.buf, "\n"+in+"]"...)
	}
	if sk := f.Socket; sk != nil && sk.Proto != "" {
		js := SocketJSON{Proto: sk.Proto, Local: sk.Local, State: sk.State, Inode: sk.Inode, Queue: sk.Queue, Holders: []HolderFD{}}
		for _, h := range sk.Holders {
			js.Holders = append(js.Holders, HolderFD{PID: h.PID, FD: h.FD, Comm: h.Comm, Exe: h.Exe, Cloexec: h.CloseOnExec})
		}
		j.field(&first, in, "socket")
		if err := j.indented(js, in); err != nil {
			return err
		}
	} else if sk != nil {
		j.field(&first, in, "process")
		if err := j.indented(ProcessJSON{PID: sk.PID, Comm: sk.Comm, Exe: sk.Exe}, in); err != nil {
			return err
		}
	}
	j.buf = append(j.buf, "\n    }"...)
	return nil
}

// appendHex appends v as lower-case hex, zero-padded to digits.
func appendHex(dst []byte, v uint64, digits int) []byte {
	const hexDigits = "0123456789abcdef"
	var b [16]byte
	n := len(b)
	for v > 0 || n > len(b)-digits {
		n--
		b[n] = hexDigits[v&0xf]
		v >>= 4
	}
	return append(dst, b[n:]...)
}

// appendJSONString appends s quoted as encoding/json does with HTML
// escaping off: \" \\ \b \f \n \r \t, other control bytes as \u00XX,
// invalid UTF-8 as \ufffd, and U+2028 and U+2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	if plainJSON(s) {
		return append(append(dst, s...), '"')
	}
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= ' ' && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// plainJSON reports whether s is printable ASCII without " and \: the
// common case, copied as it is.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if !plainJSONByte[s[i]] {
			return false
		}
	}
	return true
}

// plainJSONByte holds the bytes plainJSON allows: one look-up per byte of
// the 100 MB a large scan writes.
var plainJSONByte = func() (t [256]bool) {
	for b := ' '; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()
