package audit

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/internal/display"
	"github.com/ipckeys/ipckeys/watch"
)

// Runtime finding codes: what the calls observed by ipckeys watch show.
// Stable, like the others.
const (
	RuntimeCollision = "runtime-collision"
	IPCError         = "ipc-error"
	UnexpectedUser   = "unexpected-user"
)

func init() {
	Rules = append(Rules,
		Rule{RuntimeCollision, Error, "programs were seen deriving the same IPC key with ftok from different files: they meet in one IPC object without knowing it", "give one of the programs another key file (whose inode differs in its low 16 bits) or another proj id; every program using that channel must change together"},
		Rule{IPCError, Error, "a get call failed the way a key collision makes it fail: shmget EINVAL (the existing segment is smaller than asked), EEXIST under IPC_EXCL (someone else created the key first), EACCES (the object belongs to another owner)", "find who owns the object (named in the message) and why it holds this key: another program's key collides with this one's (see runtime-collision), or a stale object must be removed"},
		Rule{UnexpectedUser, Warning, "a program used a channel's key as another user than the channel's owner, or running another executable than the channel's exe= fields declare (watch: the calls; scan: the processes attached to the channel's segment)", "correct the manifest's owner or exe= fields, or find why this program uses the channel's key (a collision, a program given the object's id, or a program run as the wrong user)"},
	)
}

// Expected is a channel the manifest declares, with the key its file
// gives today.
type Expected struct {
	Name  string
	Key   int32
	Owner string // as the manifest names it
	UID   uint32 // the owner's uid
	// Exes are the executables that may use it (exe=); nil for any.
	Exes []string
}

// Runtime is what the runtime checks look at: the events of one watch,
// in the order they were read, and the channels a manifest declares.
type Runtime struct {
	Events   []watch.Event
	Expected []Expected
}

// CheckRuntime returns the findings the observed calls show.
func CheckRuntime(in Runtime) []Finding {
	var out []Finding
	out = append(out, runtimeCollisions(in.Events)...)
	out = append(out, ipcErrors(in.Events)...)
	out = append(out, unexpectedUsers(in)...)
	Sort(out)
	return out
}

// ftokCall is one file a key was derived from, with its first call.
type ftokCall struct {
	file  string // the identity: dev:ino, or the path when it could not be stat'ed
	first *watch.Event
}

func runtimeCollisions(events []watch.Event) []Finding {
	type group struct {
		ns    uint32
		key   int32
		calls []ftokCall
	}
	var groups []*group
	at := map[[2]int64]*group{}
	for i := range events {
		e := &events[i]
		if e.Kind != watch.Ftok || e.Key == ftok.ErrorValue || e.Key == ftok.Private {
			continue
		}
		id := [2]int64{int64(e.IPCNS), int64(e.Key)}
		g := at[id]
		if g == nil {
			g = &group{ns: e.IPCNS, key: e.Key}
			at[id] = g
			groups = append(groups, g)
		}
		file := "path:" + e.Path
		if e.File != nil {
			file = fmt.Sprintf("%d:%d", e.File.Dev, e.File.Ino)
		}
		known := false
		for _, c := range g.calls {
			known = known || c.file == file
		}
		if !known {
			g.calls = append(g.calls, ftokCall{file, e})
		}
	}
	var out []Finding
	for _, g := range groups {
		if len(g.calls) < 2 {
			continue
		}
		parts := make([]string, len(g.calls))
		for i, c := range g.calls {
			parts[i] = describeFtok(c.first)
		}
		k := g.key
		out = append(out, Finding{
			Code:     RuntimeCollision,
			Severity: Error,
			Key:      &k,
			Message: fmt.Sprintf("key %s was derived from %d different files in ipc:[%d]: %s: these programs share one IPC object without knowing it",
				ftok.Hex(k), len(g.calls), g.ns, strings.Join(parts, "; and ")),
		})
	}
	return out
}

// describeFtok names one ftok call and its caller.
func describeFtok(e *watch.Event) string {
	path := e.Path
	if e.File != nil && e.File.Path != e.Path {
		path += " (" + e.File.Path + ")"
	}
	return fmt.Sprintf("ftok(%s, %s) by %s", display.Quote(path), projText(e.Proj), caller(e))
}

// caller names the process of an event: program, pid and user.
func caller(e *watch.Event) string {
	user := e.Process.User
	if user == "" {
		user = fmt.Sprint(e.UID)
	}
	return fmt.Sprintf("%s (pid %d, %s, user %s)", display.Quote(e.Program()), e.PID, e.Comm, user)
}

func projText(proj int) string {
	if proj > 32 && proj < 127 && proj != '\'' && proj != '\\' {
		return fmt.Sprintf("'%c'", rune(proj))
	}
	return fmt.Sprint(proj)
}

// collisionErrno reports whether a failed get call failed the way a
// collision makes it fail.
func collisionErrno(e *watch.Event) bool {
	switch e.Errno {
	case syscall.EINVAL:
		return e.Kind == watch.ShmGet || e.Kind == watch.SemGet
	case syscall.EEXIST:
		return e.Flags&0o2000 != 0 // IPC_EXCL
	case syscall.EACCES:
		return true
	}
	return false
}

func ipcErrors(events []watch.Event) []Finding {
	type id struct {
		program string
		key     int32
		errno   syscall.Errno
		kind    watch.Kind
		ns      uint32
	}
	count := map[id]int{}
	first := map[id]*watch.Event{}
	var order []id
	for i := range events {
		e := &events[i]
		if !e.Kind.Get() || !e.Failed() || e.Key == ftok.Private || !collisionErrno(e) {
			continue
		}
		k := id{e.Program(), e.Key, e.Errno, e.Kind, e.IPCNS}
		if count[k] == 0 {
			order = append(order, k)
			first[k] = e
		}
		count[k]++
	}
	var out []Finding
	for _, k := range order {
		e := first[k]
		key := k.key
		times := ""
		if n := count[k]; n > 1 {
			times = fmt.Sprintf(" (%d times)", n)
		}
		out = append(out, Finding{
			Code:     IPCError,
			Severity: Error,
			Key:      &key,
			Message: fmt.Sprintf("%s(key %s%s) by %s failed with %s%s in ipc:[%d]: %s",
				e.Kind, ftok.Hex(key), getArgs(e), caller(e), errnoName(e.Errno), times, e.IPCNS, cause(e)),
		})
	}
	return out
}

func getArgs(e *watch.Event) string {
	switch e.Kind {
	case watch.ShmGet:
		return fmt.Sprintf(", size %d", e.Size)
	case watch.SemGet:
		return fmt.Sprintf(", nsems %d", e.Size)
	}
	return ""
}

func errnoName(errno syscall.Errno) string {
	switch errno {
	case syscall.EINVAL:
		return "EINVAL"
	case syscall.EEXIST:
		return "EEXIST"
	case syscall.EACCES:
		return "EACCES"
	}
	return errno.Error()
}

// cause says what the error means, with the object's owner when known.
func cause(e *watch.Event) string {
	var what string
	switch e.Errno {
	case syscall.EINVAL:
		what = "the object that holds the key is smaller than asked"
	case syscall.EEXIST:
		what = "IPC_EXCL asked to create the key, and it already exists"
	case syscall.EACCES:
		what = "the object that holds the key does not let this user in"
	}
	o := e.Object
	if o == nil {
		return what + " (the object was gone, or in another IPC namespace, when ipckeys looked)"
	}
	size := ""
	switch o.Facility {
	case "shm":
		size = fmt.Sprintf(", %d bytes", o.Size)
	case "sem":
		size = fmt.Sprintf(", %d semaphores", o.Size)
	}
	return fmt.Sprintf("%s: %s id %d (owner uid %d, creator uid %d, mode %04o%s)", what, o.Facility, o.ID, o.UID, o.CUID, o.Mode&0o777, size)
}

// unexpectedUsers finds the calls on a channel's key by another user than
// its owner, or from another executable than it declares: one finding per
// channel, program and user. A call whose executable could not be read
// (the process had ended) is judged by its user only.
func unexpectedUsers(in Runtime) []Finding {
	byKey := map[int32][]Expected{}
	for _, x := range in.Expected {
		if x.Owner != "" || len(x.Exes) > 0 {
			byKey[x.Key] = append(byKey[x.Key], x)
		}
	}
	type id struct {
		channel string
		program string
		uid     uint32
	}
	seen := map[id]bool{}
	var out []Finding
	for i := range in.Events {
		e := &in.Events[i]
		if !e.KeyKnown || e.Kind == watch.Ftok || e.Failed() {
			continue
		}
		for _, x := range byKey[e.Key] {
			otherUser := x.Owner != "" && e.UID != x.UID
			otherExe := len(x.Exes) > 0 && e.Process.Exe != "" && !slices.Contains(x.Exes, e.Process.Exe)
			if !otherUser && !otherExe {
				continue
			}
			k := id{x.Name, e.Program(), e.UID}
			if seen[k] {
				continue
			}
			seen[k] = true
			key := e.Key
			out = append(out, Finding{
				Code:     UnexpectedUser,
				Severity: Warning,
				Key:      &key,
				Message:  unexpectedUse(x, e, otherUser, otherExe),
			})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Message < out[j].Message })
	return out
}

// unexpectedUse says how a call departs from channel x: its user, its
// executable, or both; the channel is described by what it declares of
// those.
func unexpectedUse(x Expected, e *watch.Event, otherUser, otherExe bool) string {
	var declared, why []string
	if otherUser {
		declared = append(declared, "owner "+x.Owner)
		why = append(why, fmt.Sprintf("as uid %d, not the declared owner", e.UID))
	}
	if otherExe {
		declared = append(declared, exeList(x.Exes))
		why = append(why, fmt.Sprintf("from %s, not a declared executable", display.Quote(e.Process.Exe)))
	}
	return fmt.Sprintf("channel %s (key %s, %s) was used by %s: %s %s",
		x.Name, ftok.Hex(e.Key), strings.Join(declared, ", "), caller(e), e.Kind, strings.Join(why, ", and "))
}
