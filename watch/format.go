package watch

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/internal/display"
)

// Text writes the event as one line for people:
//
//	12:00:01.123456 pid 42 (writer) /usr/bin/writer root ipc:[4026531839] ftok("/etc/app/a.key", 'l') = 0x6c0102ab
func (e *Event) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s pid %d (%s) %s %s ipc:[%d] ", e.Time.Format("15:04:05.000000"), e.PID, display.Quote(e.Comm), display.Quote(e.Program()), e.Process.User, e.IPCNS)
	b.WriteString(e.Call())
	return b.String()
}

// Call writes the call and its result: shmget(0x6c0102ab, 4096, 01600) = 3.
func (e *Event) Call() string {
	var args string
	switch e.Kind {
	case Ftok:
		return fmt.Sprintf("ftok(%s, %d) = %s", display.Quote(e.Path), e.Proj, ftok.Hex(e.Key))
	case ShmGet, SemGet:
		args = fmt.Sprintf("%s, %d, %#o", ftok.Hex(e.Key), e.Size, e.Flags)
	case MsgGet:
		args = fmt.Sprintf("%s, %#o", ftok.Hex(e.Key), e.Flags)
	case ShmDt:
		args = ""
	case ShmCtl, SemCtl, MsgCtl:
		cmd := "IPC_RMID"
		if e.Cmd == IPCSet {
			cmd = "IPC_SET"
		}
		args = fmt.Sprintf("%d, %s", e.ID, cmd)
	default:
		args = fmt.Sprintf("%d, %d", e.ID, e.Size)
	}
	if !e.Kind.Get() && e.KeyKnown {
		args += " [key " + ftok.Hex(e.Key) + "]"
	}
	result := fmt.Sprint(e.Ret)
	if e.Failed() {
		result = fmt.Sprintf("-1 %s", e.Errno.Error())
	} else if e.Kind == ShmAt {
		result = fmt.Sprintf("%#x", uint64(e.Ret))
	}
	return fmt.Sprintf("%s(%s) = %s", e.Kind, args, result)
}

// eventJSON is the JSON line of an event: stable field names.
type eventJSON struct {
	Time    string  `json:"time"`
	Call    string  `json:"call"`
	PID     int     `json:"pid"`
	TID     int     `json:"tid"`
	UID     uint32  `json:"uid"`
	GID     uint32  `json:"gid"`
	Comm    string  `json:"comm"`
	IPCNS   uint32  `json:"ipc_ns"`
	Cgroup  uint64  `json:"cgroup_id"`
	Path    string  `json:"path,omitempty"`
	Proj    *int    `json:"proj,omitempty"`
	Key     *string `json:"key,omitempty"`
	ID      *int    `json:"id,omitempty"`
	Size    *uint64 `json:"size,omitempty"`
	Flags   *int    `json:"flags,omitempty"`
	Cmd     string  `json:"cmd,omitempty"`
	Result  int64   `json:"result"`
	Errno   string  `json:"errno,omitempty"`
	File    *FileID `json:"file,omitempty"`
	Object  *Object `json:"object,omitempty"`
	Process Process `json:"process"`
}

// MarshalJSON writes the event as a JSON object (one line of -o jsonl).
func (e Event) MarshalJSON() ([]byte, error) {
	j := eventJSON{Time: e.Time.UTC().Format(time.RFC3339Nano), Call: e.Kind.String(), PID: e.PID, TID: e.TID, UID: e.UID, GID: e.GID,
		Comm: e.Comm, IPCNS: e.IPCNS, Cgroup: e.CgroupID, Result: e.Ret, File: e.File, Object: e.Object, Process: e.Process}
	if e.KeyKnown {
		k := ftok.Hex(e.Key)
		j.Key = &k
	}
	switch {
	case e.Kind == Ftok:
		j.Path, j.Proj = e.Path, &e.Proj
	case e.Kind.Get():
		j.Size, j.Flags = &e.Size, &e.Flags
		if !e.Failed() {
			j.ID = &e.ID
		}
	case e.ID >= 0:
		j.ID = &e.ID
	}
	switch e.Kind {
	case SemOp, SemTimedOp, MsgSnd, MsgRcv:
		j.Size = &e.Size
	}
	if e.Kind == ShmCtl || e.Kind == SemCtl || e.Kind == MsgCtl {
		j.Cmd = "IPC_RMID"
		if e.Cmd == IPCSet {
			j.Cmd = "IPC_SET"
		}
	}
	if e.Failed() {
		j.Errno = e.Errno.Error()
	}
	return json.Marshal(j)
}
