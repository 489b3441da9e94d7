package audit_test

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/endpoint"
	"github.com/ipckeys/ipckeys/fdscan"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/manifest"
)

// file makes a key file with the given device and inode numbers on ext4.
func file(path string, dev, ino uint64) ipcscan.KeyFile {
	return ipcscan.KeyFile{Path: path, File: ftok.File{Dev: dev, Ino: ino}, FSType: "ext4"}
}

func arg(path string, proj int, f ipcscan.KeyFile) audit.Entry {
	return audit.Entry{Path: path, Proj: proj, HasProj: true, File: f}
}

func channel(name string, proj int, f ipcscan.KeyFile) audit.Entry {
	return audit.Entry{Channel: &manifest.Channel{Name: name, Path: f.Path, Proj: proj}, Path: f.Path, Proj: proj, HasProj: true, File: f}
}

// summary renders findings as "code severity key [entries]" for comparison.
func summary(fs []audit.Finding) []string {
	var out []string
	for _, f := range fs {
		key := "-"
		if f.Key != nil {
			key = ftok.Hex(*f.Key)
		}
		out = append(out, fmt.Sprintf("%s %s %s %v", f.Code, f.Severity, key, f.Entries))
	}
	return out
}

func TestCheck(t *testing.T) {
	// The incident's inodes on sda1 (8:1): equal low 16 bits 0x4001.
	b := file("/etc/app/b.conf", 0x801, 0x1E64001)
	c := file("/etc/app/c.conf", 0x801, 0x1EC4001)
	d := file("/etc/app/d.conf", 0x801, 0x1EC4002)
	// dev byte 0 (254:0) and inode bits 0: proj 0 gives IPC_PRIVATE.
	zero := file("/srv/zero", 0xfe00, 0x30000)
	// dev byte 0xff (minor 255) and inode bits 0xffff: proj 255 gives -1.
	ones := file("/srv/ones", 0x8ff, 0x2ffff)
	tmp := ipcscan.KeyFile{Path: "/dev/shm/k", File: ftok.File{Dev: 0x1b, Ino: 5}, FSType: "tmpfs", Unstable: "it lives in memory"}
	missing := audit.Entry{Path: "/etc/app/gone", Proj: 'l', HasProj: true, Err: fs.ErrNotExist}

	tests := []struct {
		name    string
		entries []audit.Entry
		want    []string
	}{
		{"incident: different files, same proj", []audit.Entry{arg(b.Path, 'l', b), arg(c.Path, 'l', c)},
			[]string{"key-collision error 0x6c014001 [0 1]"}},
		{"different proj ids: fingerprint only", []audit.Entry{arg(b.Path, 'l', b), arg(c.Path, 'm', c)},
			[]string{"fingerprint-collision warning - [0 1]"}},
		{"no proj ids at all", []audit.Entry{{Path: b.Path, File: b}, {Path: c.Path, File: c}},
			[]string{"fingerprint-collision warning - [0 1]"}},
		{"no collision", []audit.Entry{arg(b.Path, 'l', b), arg(d.Path, 'l', d)}, nil},
		{"proj 1 and 257 on one file", []audit.Entry{arg(d.Path, 1, d), arg(d.Path, 257, d)},
			[]string{"key-collision error 0x01014002 [0 1]", "proj-truncated error 0x01014002 [1]"}},
		{"proj 257 alone", []audit.Entry{arg(d.Path, 257, d)},
			[]string{"proj-truncated warning 0x01014002 [0]"}},
		{"two channels, one file and proj", []audit.Entry{channel("a", 'l', d), channel("b", 'l', d)},
			[]string{"key-collision error 0x6c014002 [0 1]"}},
		{"argument that is also a channel", []audit.Entry{channel("a", 'l', d), arg(d.Path, 'l', d)}, nil},
		{"symlink twin", []audit.Entry{arg(d.Path, 'l', d), arg("/link", 'l', d)},
			[]string{"same-file info - [0 1]"}},
		{"IPC_PRIVATE", []audit.Entry{arg(zero.Path, 0, zero)},
			[]string{"key-private error 0x00000000 [0]", "proj-zero warning 0x00000000 [0]"}},
		{"two IPC_PRIVATE files do not share", []audit.Entry{arg(zero.Path, 0, zero), arg("/srv/zero2", 0, file("/srv/zero2", 0xfe00, 0x40000))},
			[]string{"key-private error 0x00000000 [0]", "key-private error 0x00000000 [1]", "fingerprint-collision warning - [0 1]", "proj-zero warning 0x00000000 [0]", "proj-zero warning 0x00000000 [1]"}},
		{"ftok's error value", []audit.Entry{arg(ones.Path, 255, ones)},
			[]string{"key-error-value error 0xffffffff [0]"}},
		{"error value by truncation", []audit.Entry{arg(ones.Path, -1, ones)},
			[]string{"key-error-value error 0xffffffff [0]", "proj-truncated warning 0xffffffff [0]"}},
		{"missing file", []audit.Entry{missing, arg(d.Path, 'l', d)},
			[]string{"path-unusable error 0xffffffff [0]"}},
		{"tmpfs", []audit.Entry{arg(tmp.Path, 'l', tmp), arg(tmp.Path, 'm', tmp)},
			[]string{"unstable-filesystem warning - [0]"}},
		{"three files, two colliding", []audit.Entry{arg(b.Path, 'l', b), arg(c.Path, 'l', c), arg("/x", 'm', file("/x", 0x801, 0x4001))},
			[]string{"key-collision error 0x6c014001 [0 1]", "fingerprint-collision warning - [0 1 2]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := summary(audit.Check(tc.entries))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Check:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestCollisionMessageNamesEverything(t *testing.T) {
	b := file("/etc/app/b.conf", 0x801, 0x1E64001)
	c := file("/etc/app/c.conf", 0x801, 0x1EC4001)
	f := audit.Check([]audit.Entry{channel("orders", 'l', b), channel("audit", 'l', c)})
	if len(f) != 1 {
		t.Fatalf("got %d findings", len(f))
	}
	for _, want := range []string{
		"channel orders (/etc/app/b.conf, proj 108 'l', dev 8:1, ino 31866881 = 0x1e64001)",
		"channel audit (/etc/app/c.conf, proj 108 'l', dev 8:1, ino 32260097 = 0x1ec4001)",
		"0x6c014001", "device byte 0x01", "inode low 16 bits 0x4001",
	} {
		if !strings.Contains(f[0].Message, want) {
			t.Errorf("message lacks %q:\n%s", want, f[0].Message)
		}
	}
}

func TestParseThreshold(t *testing.T) {
	for in, want := range map[string]audit.Severity{"error": audit.Error, "warning": audit.Warning, "info": audit.Info, "never": audit.Never} {
		if got, err := audit.ParseThreshold(in); err != nil || got != want {
			t.Errorf("ParseThreshold(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := audit.ParseThreshold("Error"); err == nil {
		t.Error("ParseThreshold accepted Error")
	}
}

func TestRulesCoverEveryCode(t *testing.T) {
	codes := []string{audit.KeyCollision, audit.FingerprintCollision, audit.SameFile, audit.KeyPrivate,
		audit.KeyErrorValue, audit.ProjZero, audit.ProjTruncated, audit.PathUnusable, audit.UnstableFilesystem,
		audit.NattchMismatch, audit.MissingObject, audit.KeyInUse, audit.StaleObject, audit.RemovedAttached, audit.TypeMismatch,
		audit.SuppressionExpired, audit.SuppressionUnused, audit.KeyFileReplaceable, audit.KeyDrift, audit.KeyViewDiffers,
		audit.SettingEmpty, audit.RelativeKeyPath, audit.SettingUnresolved,
		audit.InheritedListener, audit.ListenerNotAccepting, audit.ListenerWrongHolder, audit.ListenerMissing,
		audit.ListenerCloexecMissing, audit.UnixListenerOrphaned, audit.CloseWaitLeak, audit.FDExhaustion, audit.KeyCoincidence, audit.CheckIncomplete,
		audit.RuntimeCollision, audit.IPCError, audit.UnexpectedUser}
	for _, c := range codes {
		if r := audit.RuleFor(c); r.Summary == "" || r.Fix == "" || r.Severity == 0 {
			t.Errorf("code %s has no complete rule: %+v", c, r)
		}
	}
	if len(audit.Rules) != len(codes) {
		t.Errorf("%d rules for %d codes", len(audit.Rules), len(codes))
	}
}

func TestDisplay(t *testing.T) {
	for in, want := range map[string]string{
		"/etc/a b":   "/etc/a b",
		"/etc/é":     "/etc/é",
		"/new\nl":    `"/new\nl"`,
		"/bad\xff":   `"/bad\xff"`,
		"/tab\there": `"/tab\there"`,
		"/del\x7f":   `"/del\x7f"`,
		"/é\nl":      `"/é\nl"`,
		"/é\xff":     `"/é\xff"`,
		"/~x":        "/~x",
		"":           "",
	} {
		if got := audit.Display(in); got != want {
			t.Errorf("Display(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestSuggest: the nearest printable proj ids first, never a key another
// channel or a live object holds, never 0 or 0xffffffff, and two channels
// that must both change are not offered the same key first.
func TestSuggest(t *testing.T) {
	b := file("/etc/app/b.conf", 0x801, 0x1E64001)
	c := file("/etc/app/c.conf", 0x801, 0x1EC4001)
	d := file("/etc/app/d.conf", 0x801, 0x1ED4001)
	e := file("/etc/app/e.conf", 0x801, 0x4002)
	entries := []audit.Entry{channel("orders", 'l', b), channel("audit", 'l', c), channel("cache", 'l', d), channel("other", 'k', e)}
	// 'm' for audit would be 0x6d014001: make a live segment hold it.
	snap := &ipcscan.Snapshot{Shm: []ipcscan.Segment{{Perm: ipcscan.Perm{Key: 0x6d014001, ID: 7}}}}
	findings := audit.Check(entries)
	audit.Suggest(findings, entries, snap)
	var col *audit.Finding
	for i := range findings {
		if findings[i].Code == audit.KeyCollision {
			col = &findings[i]
		}
	}
	if col == nil {
		t.Fatal("no collision")
	}
	var got []string
	for _, s := range col.Suggestions {
		if s.Kind == audit.FixRekey {
			got = append(got, entries[s.Entry].Name()+" rekey")
			continue
		}
		got = append(got, fmt.Sprintf("%s %c %s", entries[s.Entry].Name(), rune(s.Proj), ftok.Hex(s.Key)))
	}
	// Candidates by distance from 'l', below before above: k m j n i o.
	// audit: 'k' (0x6b014001) is free ('other' is 'k' on another inode),
	// 'm' is held live: k, j, n. cache: 'k' is now audit's first choice,
	// 'm' live: j, n, i.
	// First the key files of both: new inodes, no program change.
	want := []string{
		"audit rekey", "cache rekey",
		"audit k 0x6b014001", "audit j 0x6a014001", "audit n 0x6e014001",
		"cache j 0x6a014001", "cache n 0x6e014001", "cache i 0x69014001",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("suggestions:\n got %q\nwant %q", got, want)
	}
	if !strings.Contains(col.Message, "Suggested: ipckeys rekey /etc/app/c.conf /etc/app/d.conf (a new inode for the key file, so a new key: no program changes); or give channel audit proj 107 'k' (key 0x6b014001) or ") ||
		!strings.Contains(col.Message, "every program using channel cache must change its proj id together") {
		t.Errorf("message: %s", col.Message)
	}
	// IPC_PRIVATE: suggestions for the entry itself, never proj 0 again.
	zero := file("/srv/zero", 0xfe00, 0x30000)
	pe := []audit.Entry{arg(zero.Path, 0, zero)}
	pf := audit.Check(pe)
	audit.Suggest(pf, pe, nil)
	if len(pf[0].Suggestions) != 3 || pf[0].Suggestions[0].Proj != '!' {
		t.Errorf("IPC_PRIVATE suggestions %+v, want 3 starting with '!'", pf[0].Suggestions)
	}
}

// TestStatic: without looking at any file, the static check finds what
// collides on every host, and takes shared config settings for sharing.
func TestStatic(t *testing.T) {
	setting := func(file, name, path string, line, proj int) audit.Entry {
		c := &manifest.Channel{Name: file + ":" + name, Path: path, Proj: proj, File: file, Line: line, Setting: name}
		return audit.Entry{Channel: c, Path: c.Resolved(), Proj: proj, HasProj: true, Static: true}
	}
	codes := func(fs []audit.Finding) map[string]int {
		m := map[string]int{}
		for _, f := range fs {
			m[f.Code]++
		}
		return m
	}
	// ./k and k, proj 1 and 257: one key everywhere.
	got := audit.Check([]audit.Entry{
		setting("/etc/app/B.conf", "chnl_shm_path", "/srv/./k", 1, 1),
		setting("/etc/app/C.conf", "chnl_shm_path", "/srv/k", 1, 257),
	})
	if c := codes(got); c[audit.KeyCollision] != 1 || c[audit.ProjTruncated] != 1 || c[audit.PathUnusable] != 0 || len(got) != 2 {
		t.Errorf("1 and 257 on one file: %+v", got)
	}
	for _, f := range got {
		if f.Code == audit.ProjTruncated && f.Severity != audit.Error {
			t.Errorf("a truncation that collides is an error: %+v", f)
		}
	}
	// The same file and proj from two services: shared, info only.
	got = audit.Check([]audit.Entry{
		setting("/etc/app/A.conf", "b_shm_path", "/srv/b.key", 2, 'l'),
		setting("/etc/app/B.conf", "chnl_shm_path", "/srv/b.key", 1, 'l'),
	})
	if c := codes(got); c[audit.SameFile] != 1 || len(got) != 1 {
		t.Errorf("one file shared by two services: %+v", got)
	}
	// Distinct files: nothing can be said without their inodes.
	got = audit.Check([]audit.Entry{
		setting("/etc/app/B.conf", "chnl_shm_path", "/srv/b.key", 1, 'l'),
		setting("/etc/app/C.conf", "chnl_shm_path", "/srv/c.key", 1, 'l'),
	})
	if len(got) != 0 {
		t.Errorf("two distinct files, statically: %+v", got)
	}
	// Volatile directories, default and configured.
	e := []audit.Entry{setting("/etc/app/B.conf", "chnl_shm_path", "/run/app/k", 1, 'l')}
	if c := codes(audit.Check(e)); c[audit.UnstableFilesystem] != 1 {
		t.Errorf("/run is volatile by default: %v", c)
	}
	if c := codes(audit.CheckWith(e, audit.Options{VolatileDirs: []string{"/srv/ram"}})); c[audit.UnstableFilesystem] != 0 {
		t.Errorf("--volatile replaces the defaults: %v", c)
	}
	// An empty setting is an error, a relative one a warning.
	got = audit.Check([]audit.Entry{setting("/etc/app/B.conf", "chnl_shm_path", "", 1, 'l'), setting("/etc/app/C.conf", "chnl_shm_path", "k", 1, 'l')})
	if c := codes(got); c[audit.SettingEmpty] != 1 || c[audit.RelativeKeyPath] != 1 {
		t.Errorf("empty and relative settings: %v", c)
	}
}

// TestDescriptorRules holds the descriptor checks to a made process tree:
// what is flagged, what is by design, and the thresholds.
func TestDescriptorRules(t *testing.T) {
	proc := func(pid, ppid int, start uint64, exe string) *fdscan.Process {
		return &fdscan.Process{PID: pid, PPID: ppid, Start: start, Comm: filepath.Base(exe), Exe: exe, FDs: 10, FDLimit: 1024}
	}
	listen := func(ino uint64, local string, queue int) *fdscan.Socket {
		return &fdscan.Socket{Inode: ino, Proto: "tcp", State: "LISTEN", Local: local, Queue: queue, Backlog: 16}
	}
	snap := &fdscan.Snapshot{
		Processes: map[int]*fdscan.Process{
			1:   proc(1, 0, 1, "/usr/lib/systemd/systemd"),
			100: proc(100, 1, 10, "/usr/sbin/a"),
			229: proc(229, 100, 20, "/usr/bin/dash"),
			230: proc(230, 229, 21, "/usr/sbin/b"),
			300: proc(300, 1, 30, "/usr/sbin/nginx"),
			301: proc(301, 300, 31, "/usr/sbin/nginx"),
			400: proc(400, 1, 40, "/usr/sbin/svc"),
			500: proc(500, 1, 50, "/usr/sbin/full"),
			600: proc(600, 1, 60, "/usr/sbin/spawner"),
			601: proc(601, 600, 61, "/usr/bin/helper"),
		},
		Sockets: map[uint64]*fdscan.Socket{
			11: listen(11, "127.0.0.1:5555", 0), // inherited by sh and b
			12: listen(12, "0.0.0.0:80", 0),     // pre-fork nginx
			13: listen(13, "127.0.0.1:8080", 0), // systemd socket activation
			14: listen(14, "127.0.0.1:9000", 0), // no close-on-exec, a child of another program
		},
		Holders: map[uint64][]fdscan.Holder{
			11: {{PID: 100, FD: 3}, {PID: 229, FD: 3}, {PID: 230, FD: 3}},
			12: {{PID: 300, FD: 6}, {PID: 301, FD: 6}},
			13: {{PID: 1, FD: 40, CloseOnExec: true}, {PID: 400, FD: 3, CloseOnExec: true}},
			14: {{PID: 600, FD: 5}},
		},
	}
	snap.Processes[400].ListenFDs = true
	snap.Processes[500].FDs, snap.Processes[500].FDLimit = 820, 1024
	got := audit.CheckDescriptors(audit.Descriptors{Snap: snap})
	byCode := map[string][]audit.Finding{}
	for _, f := range got {
		byCode[f.Code] = append(byCode[f.Code], f)
	}
	if len(byCode[audit.InheritedListener]) != 1 || byCode[audit.InheritedListener][0].Socket.Local != "127.0.0.1:5555" {
		t.Fatalf("inherited-listener: %+v", byCode[audit.InheritedListener])
	}
	if msg := byCode[audit.InheritedListener][0].Message; !strings.Contains(msg, "b (230), running /usr/sbin/b, holds it as fd 3 without close-on-exec (through a (100) → dash (229) → b (230))") {
		t.Errorf("message: %s", msg)
	}
	if f := byCode[audit.ListenerCloexecMissing]; len(f) != 1 || f[0].Socket.Local != "127.0.0.1:9000" {
		t.Errorf("listener-cloexec-missing: %+v (want only the spawner's)", f)
	}
	if f := byCode[audit.FDExhaustion]; len(f) != 1 || f[0].Socket.PID != 500 || f[0].Severity != audit.Warning {
		t.Errorf("fd-exhaustion at 80%%: %+v", f)
	}
	snap.Processes[500].FDs = 1000
	for _, f := range audit.CheckDescriptors(audit.Descriptors{Snap: snap}) {
		if f.Code == audit.FDExhaustion && f.Severity != audit.Error {
			t.Errorf("fd-exhaustion at 98%% is an error: %+v", f)
		}
	}
	// The manifest says who must hold 5555, and declares a listener that
	// is not there.
	web := manifest.Listener{Name: "web", Exe: "/usr/sbin/a", File: "app.manifest", Line: 3}
	web.Endpoint, _ = endpoint.Parse("tcp:127.0.0.1:5555")
	gone := manifest.Listener{Name: "api", Exe: "/usr/sbin/api", File: "app.manifest", Line: 4}
	gone.Endpoint, _ = endpoint.Parse("tcp:7777")
	byCode = map[string][]audit.Finding{}
	for _, f := range audit.CheckDescriptors(audit.Descriptors{Snap: snap, Listeners: []manifest.Listener{web, gone}}) {
		byCode[f.Code] = append(byCode[f.Code], f)
	}
	if f := byCode[audit.ListenerWrongHolder]; len(f) != 1 || f[0].Where.Line != 3 || !strings.Contains(f[0].Message, "b (230), running /usr/sbin/b, as fd 3") {
		t.Errorf("listener-wrong-holder: %+v", f)
	}
	if f := byCode[audit.ListenerMissing]; len(f) != 1 || f[0].Where.Line != 4 {
		t.Errorf("listener-missing: %+v", f)
	}
}
