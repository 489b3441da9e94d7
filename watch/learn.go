package watch

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/internal/display"
	"github.com/ipckeys/ipckeys/manifest"
)

// Learnt is a channel seen in use: a key derived with ftok from a file
// and then given to a get call.
type Learnt struct {
	Channel  manifest.Channel
	Programs []string // the programs seen using it (Event.Program)
	IPCNS    uint32   // the IPC namespace it was seen in
	Key      int32
}

// Learn returns the channels the events show: every key that an ftok
// call derived and a successful get call then used, in the caller's IPC
// namespace. The name is the first program's command and the facility
// ("writer-shm"), made unique; the owner is the user whose get call
// created or first opened the object. Its users are the programs whose
// calls named the key: the get calls, and the calls on the object's id
// (semop, shmat, msgsnd…) the watch could map to the key. Their
// executables are the channel's exe= fields, sorted; when one user's
// executable could not be read (it ended before the watch looked), the
// channel gets none, since a list without it would make that program an
// unexpected user. A segment's nattch is the range nattch holds for its
// namespace and key; nil nattch, or a segment it never sampled, leaves it
// unset. Keys no ftok call derived (a hard-coded number) have no key file
// to write, and are left out.
func Learn(events []Event, nattch *NattchRanges) []Learnt {
	type id struct {
		ns  uint32
		key int32
	}
	files := map[id]*Event{}
	for i := range events {
		e := &events[i]
		if e.Kind == Ftok && e.Key != ftok.ErrorValue && files[id{e.IPCNS, e.Key}] == nil {
			files[id{e.IPCNS, e.Key}] = e
		}
	}
	var out []Learnt
	at := map[string]int{}
	for i := range events {
		e := &events[i]
		if !e.Kind.Get() || e.Failed() {
			continue
		}
		f := files[id{e.IPCNS, e.Key}]
		if f == nil {
			continue
		}
		k := fmt.Sprintf("%d/%d/%s", e.IPCNS, e.Key, e.Kind.Facility())
		if n, ok := at[k]; ok {
			if !contains(out[n].Programs, e.Program()) {
				out[n].Programs = append(out[n].Programs, e.Program())
			}
			continue
		}
		path := f.Path
		if f.File != nil {
			path = f.File.Path
		}
		owner := e.Process.User
		if owner == "" {
			owner = fmt.Sprint(e.UID)
		}
		at[k] = len(out)
		out = append(out, Learnt{
			Channel:  manifest.Channel{Name: e.Comm + "-" + e.Kind.Facility(), Path: path, Proj: f.Proj, Type: e.Kind.Facility(), Owner: owner},
			Programs: []string{e.Program()},
			IPCNS:    e.IPCNS,
			Key:      e.Key,
		})
	}
	// Programs that use an object through an id another program looked up.
	for i := range events {
		e := &events[i]
		if e.Kind == Ftok || e.Kind.Get() || !e.KeyKnown || e.Failed() {
			continue
		}
		k := fmt.Sprintf("%d/%d/%s", e.IPCNS, e.Key, e.Kind.Facility())
		if n, ok := at[k]; ok && !contains(out[n].Programs, e.Program()) {
			out[n].Programs = append(out[n].Programs, e.Program())
		}
	}
	names := map[string]int{}
	for i := range out {
		l := &out[i]
		c := &l.Channel
		c.Exes = executables(l.Programs)
		if r, ok := nattch.Range(l.IPCNS, l.Key); ok && c.Type == "shm" {
			c.Nattch = &r
		}
		c.Name = safeName(c.Name)
		names[c.Name]++
		if n := names[c.Name]; n > 1 {
			c.Name = fmt.Sprintf("%s-%d", c.Name, n)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Channel.Name < out[j].Channel.Name })
	return out
}

// executables returns the programs' executables, sorted, or nil when one
// of them is not known: Event.Program writes it as "(comm)".
func executables(programs []string) []string {
	var out []string
	for _, p := range programs {
		if !strings.HasPrefix(p, "/") {
			return nil
		}
		if !contains(out, p) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// safeName keeps a channel name to letters, digits, '-', '_' and '.'.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}

// WriteManifest writes learnt channels in the manifest format, with the
// programs seen using each as a comment above it.
func WriteManifest(w io.Writer, learnt []Learnt) error {
	var b strings.Builder
	b.WriteString("# learnt by ipckeys watch: the channels seen derived with ftok and used\n")
	b.WriteString("# name  path  proj  type  nattch  owner  exe=...\n")
	for _, l := range learnt {
		c := l.Channel
		users := make([]string, len(l.Programs))
		for i, p := range l.Programs {
			users[i] = display.Quote(p) // a newline would end the comment
		}
		fmt.Fprintf(&b, "# used by %s\n", strings.Join(users, ", "))
		if len(c.Exes) == 0 {
			var unknown []string
			for _, p := range l.Programs {
				if !strings.HasPrefix(p, "/") {
					unknown = append(unknown, p)
				}
			}
			fmt.Fprintf(&b, "# no exe=: the executable of %s could not be read (it ended before the watch looked)\n", display.Quote(strings.Join(unknown, ", ")))
		}
		nattch := "-"
		if c.Nattch != nil {
			nattch = c.Nattch.String()
		}
		fmt.Fprintf(&b, "%s %s %#x %s %s %s", c.Name, manifest.Escape(c.Path), c.Proj&0xff, c.Type, nattch, c.Owner)
		for _, exe := range c.Exes {
			b.WriteString(" exe=" + manifest.Escape(exe))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
