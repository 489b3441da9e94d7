package rekey

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/internal/display"
	"github.com/ipckeys/ipckeys/internal/texttable"
)

// Schema names the JSON document WriteJSON writes.
const Schema = "ipckeys/rekey/v1"

// WriteTable writes the result as a table for people, one row per path
// and proj id, and the notes after it.
func WriteTable(w io.Writer, r *Result) error {
	t := texttable.New(w, "PATH", "PROJ", "OLD INODE", "OLD KEY", "NEW INODE", "NEW KEY", "TRIES")
	for _, f := range r.Files {
		for _, kc := range f.Keys {
			newIno, newKey, tries := "-", "-", "-"
			if r.DryRun {
				newKey = "(a new inode)"
			}
			if f.Done {
				newIno, newKey, tries = strconv.FormatUint(f.NewIno, 10), ftok.Hex(kc.New), strconv.Itoa(f.Tries)
			}
			if err := t.Append([]string{display.Quote(f.Path), ftok.ProjString(kc.Proj), strconv.FormatUint(f.OldIno, 10), ftok.Hex(kc.Old), newIno, newKey, tries}); err != nil {
				return err
			}
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	_, err := io.WriteString(w, notes(r))
	return err
}

// WriteText writes the result as lines: one per path and proj id, then
// the notes.
func WriteText(w io.Writer, r *Result) error {
	var b strings.Builder
	for _, f := range r.Files {
		for _, kc := range f.Keys {
			fmt.Fprintf(&b, "%s: proj %s: inode %d key %s", display.Quote(f.Path), ftok.ProjString(kc.Proj), f.OldIno, ftok.Hex(kc.Old))
			switch {
			case f.Done:
				fmt.Fprintf(&b, " -> inode %d key %s (%s)\n", f.NewIno, ftok.Hex(kc.New), plural(f.Tries, "new file", "new files"))
			case r.DryRun:
				b.WriteString(" -> a new inode would be tried (dry run)\n")
			default:
				b.WriteString(": not re-created\n")
			}
		}
	}
	b.WriteString(notes(r))
	_, err := io.WriteString(w, b.String())
	return err
}

// notes says what each old key collided with, and which live objects
// still use an old key and what to do about each.
func notes(r *Result) string {
	var b strings.Builder
	for _, f := range r.Files {
		p := display.Quote(f.Path)
		if len(f.Collides) > 0 {
			fmt.Fprintf(&b, "note: %s collided with %s\n", p, strings.Join(f.Collides, ", "))
		}
		if r.DryRun {
			fmt.Fprintf(&b, "note: %s: dry run, nothing created: rekey makes new files beside it until one's key is free (at most %d)\n", p, maxTries)
		}
		for _, o := range f.Live {
			fmt.Fprintf(&b, "live: %s: %s\n", p, o.describe())
		}
	}
	return b.String()
}

// describe says who holds the object and what to do with it.
func (o Object) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s id %d (key %s), owner %s", facilityName(o.Facility), o.ID, ftok.Hex(o.Key), display.Quote(o.Owner))
	if o.CreatorPID > 0 {
		fmt.Fprintf(&b, ", creator pid %d", o.CreatorPID)
		if o.CreatorComm != "" {
			fmt.Fprintf(&b, " (%s)", display.Quote(o.CreatorComm))
		} else {
			b.WriteString(" (gone)")
		}
	}
	if o.Facility == "shm" {
		if len(o.Attached) == 0 {
			b.WriteString(", attached: none")
		} else {
			var hs []string
			for _, h := range o.Attached {
				hs = append(hs, fmt.Sprintf("%d (%s)", h.PID, display.Quote(h.Comm)))
			}
			b.WriteString(", attached: " + strings.Join(hs, ", "))
		}
	}
	if o.KeptBy != "" {
		fmt.Fprintf(&b, "; the key stays %s's: leave the object alone", o.KeptBy)
	} else {
		fmt.Fprintf(&b, "; its service keeps using it until it restarts; after the restart remove it: %s", o.Ipcrm())
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

type jsonDoc struct {
	Schema   string     `json:"schema"`
	DryRun   bool       `json:"dry_run"`
	MaxTries int        `json:"max_tries"`
	Files    []jsonFile `json:"files"`
}

type jsonFile struct {
	Path     string       `json:"path"`
	Resolved string       `json:"resolved"`
	Dev      uint64       `json:"dev"`
	OldInode uint64       `json:"old_inode"`
	NewInode uint64       `json:"new_inode,omitempty"`
	Tries    int          `json:"tries"`
	Done     bool         `json:"done"`
	Keys     []jsonKey    `json:"keys"`
	Collides []string     `json:"collides_with"`
	Live     []jsonObject `json:"live"`
}

type jsonKey struct {
	Proj int    `json:"proj"`
	Old  string `json:"old"`
	New  string `json:"new,omitempty"`
}

type jsonObject struct {
	Facility     string       `json:"facility"`
	ID           int          `json:"id"`
	Key          string       `json:"key"`
	Owner        string       `json:"owner"`
	CreatorPID   int          `json:"creator_pid,omitempty"`
	CreatorComm  string       `json:"creator_comm,omitempty"`
	Attached     []jsonHolder `json:"attached"`
	KeptBy       string       `json:"kept_by,omitempty"`
	AfterRestart string       `json:"after_restart,omitempty"`
}

type jsonHolder struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
}

// WriteJSON writes the result as the ipckeys/rekey/v1 document.
func WriteJSON(w io.Writer, r *Result) error {
	doc := jsonDoc{Schema: Schema, DryRun: r.DryRun, MaxTries: maxTries, Files: []jsonFile{}}
	for _, f := range r.Files {
		jf := jsonFile{Path: f.Path, Resolved: f.Name, Dev: f.Dev, OldInode: f.OldIno, Tries: f.Tries, Done: f.Done,
			Collides: append([]string{}, f.Collides...), Live: []jsonObject{}}
		if f.Done {
			jf.NewInode = f.NewIno
		}
		for _, kc := range f.Keys {
			k := jsonKey{Proj: kc.Proj, Old: ftok.Hex(kc.Old)}
			if f.Done {
				k.New = ftok.Hex(kc.New)
			}
			jf.Keys = append(jf.Keys, k)
		}
		for _, o := range f.Live {
			jo := jsonObject{Facility: o.Facility, ID: o.ID, Key: ftok.Hex(o.Key), Owner: o.Owner, CreatorPID: o.CreatorPID, CreatorComm: o.CreatorComm, Attached: []jsonHolder{}, KeptBy: o.KeptBy}
			if o.KeptBy == "" {
				jo.AfterRestart = o.Ipcrm()
			}
			for _, h := range o.Attached {
				jo.Attached = append(jo.Attached, jsonHolder{PID: h.PID, Comm: h.Comm})
			}
			jf.Live = append(jf.Live, jo)
		}
		doc.Files = append(doc.Files, jf)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}
