package report_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/report"
)

// TestLsLastPidsGone: the last pids (LPID of a segment, LSPID and LRPID
// of a queue) are marked "(gone)" like the creator's when no process has
// them, in the tables and in JSON; pid 0 (no operation yet) is not. The
// fixture's pids 3001, 3199, 3900, 3950 and 3960 have no process.
func TestLsLastPidsGone(t *testing.T) {
	t.Setenv("LANG", "C.UTF-8")
	t.Setenv("LC_ALL", "C.UTF-8")
	snap, err := ipcscan.NewFS("../testdata/proc/restart").Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	all := report.Facilities{Shm: true, Sem: true, Msg: true}
	doc := report.NewLs(snap, nil, all)
	var b bytes.Buffer
	if err := report.LsTables(&b, doc, all); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"│ 10 │ root  │ 0600  │ 65536 │ 2      │ dest   │ 3001 (gone) │ 3002        │",
		"│ 11 │ root  │ 0600  │ 65536 │ 26     │ -      │ 3100        │ 3199 (gone) │",
		"│ 13 │ root  │ 0600  │ 8192  │ 0      │ -      │ 3900 (gone) │ 0           │",
		"│ 0x00000051 │ 20 │ root  │ 0600  │ 1        │ 56    │ 3002        │ 3950 (gone) │",
		"│ 0x00000052 │ 21 │ root  │ 0600  │ 0        │ 0     │ 3960 (gone) │ 0           │",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("ls tables lack %q:\n%s", want, out)
		}
	}
	var js bytes.Buffer
	if err := report.WriteLs(&js, doc); err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Shm []struct {
			ID        int  `json:"id"`
			LPID      int  `json:"lpid"`
			LPIDAlive bool `json:"lpid_alive"`
		} `json:"shm"`
		Msg []struct {
			ID         int  `json:"id"`
			LSPIDAlive bool `json:"lspid_alive"`
			LRPIDAlive bool `json:"lrpid_alive"`
		} `json:"msg"`
	}
	if err := json.Unmarshal(js.Bytes(), &parsed); err != nil {
		t.Fatal(err)
	}
	alive := map[int]bool{}
	for _, s := range parsed.Shm {
		alive[s.ID] = s.LPIDAlive
	}
	if !alive[10] || alive[11] || !alive[12] || alive[13] {
		t.Errorf("lpid_alive by segment %v, want 10 and 12 alive, 11 gone, 13 none", alive)
	}
	if m := parsed.Msg; len(m) != 2 || !m[0].LSPIDAlive || m[0].LRPIDAlive || m[1].LSPIDAlive || m[1].LRPIDAlive {
		t.Errorf("queues %+v, want lspid alive only for queue 20", m)
	}
}

// TestLsAttachedWraps: 26 holders of one segment make a list the table
// breaks into lines, between holders, instead of a line of 1,296 bytes.
func TestLsAttachedWraps(t *testing.T) {
	t.Setenv("LANG", "C.UTF-8")
	t.Setenv("LC_ALL", "C.UTF-8")
	snap, err := ipcscan.NewFS("../testdata/proc/restart").Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	shm := report.Facilities{Shm: true}
	var b bytes.Buffer
	if err := report.LsTables(&b, report.NewLs(snap, nil, shm), shm); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	widest := 0
	for _, l := range lines {
		widest = max(widest, utf8.RuneCountInString(l))
	}
	// The columns other than ATTACHED take 114 characters here.
	if widest > 114+50 {
		t.Errorf("widest line %d characters:\n%s", widest, b.String())
	}
	var holders []string
	for _, l := range lines {
		if cells := strings.Split(l, "│"); len(cells) == 13 {
			holders = append(holders, strings.TrimSpace(cells[10]))
		}
	}
	joined := strings.Join(holders, " ")
	for pid := 3100; pid <= 3125; pid++ {
		if !strings.Contains(joined, strconv.Itoa(pid)+" nginx") {
			t.Errorf("holder %d nginx missing or split:\n%s", pid, b.String())
		}
	}
}
