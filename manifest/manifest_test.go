package manifest_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ipckeys/ipckeys/manifest"
)

func TestParse(t *testing.T) {
	src := `# channels of the order service
orders     /etc/app/orders.conf  l     shm  2     app   # trailing comment
audit-q    /etc/app/audit.conf   0x41  msg  -     -
locks      /etc/app/locks.conf   '1'

spaced     /srv/my\040app/key\012x  108   sem  1-3  1000
relative   keys/a.key            -1    -    0+   -    config
writers    /etc/app/w.conf       l     shm  2    app  exe=/usr/bin/w exe=/opt/my\040app/r
early-exe  /etc/app/e.conf       l     exe=/usr/bin/w   # exe= right after proj
`
	got, err := manifest.Parse(strings.NewReader(src), "/etc/ipckeys/app.manifest")
	if err != nil {
		t.Fatal(err)
	}
	want := []manifest.Channel{
		{Name: "orders", Path: "/etc/app/orders.conf", Proj: 108, Type: "shm", Nattch: &manifest.Range{Min: 2, Max: 2}, Owner: "app", Line: 2},
		{Name: "audit-q", Path: "/etc/app/audit.conf", Proj: 0x41, Type: "msg", Line: 3},
		{Name: "locks", Path: "/etc/app/locks.conf", Proj: 0x31, Line: 4},
		{Name: "spaced", Path: "/srv/my app/key\nx", Proj: 108, Type: "sem", Nattch: &manifest.Range{Min: 1, Max: 3}, Owner: "1000", Line: 6},
		{Name: "relative", Path: "keys/a.key", Proj: -1, Nattch: &manifest.Range{Min: 0, Max: -1}, Config: true, Line: 7},
		{Name: "writers", Path: "/etc/app/w.conf", Proj: 108, Type: "shm", Nattch: &manifest.Range{Min: 2, Max: 2}, Owner: "app",
			Exes: []string{"/usr/bin/w", "/opt/my app/r"}, Line: 8},
		{Name: "early-exe", Path: "/etc/app/e.conf", Proj: 108, Exes: []string{"/usr/bin/w"}, Line: 9},
	}
	for i := range want {
		want[i].File = "/etc/ipckeys/app.manifest"
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse:\n got %+v\nwant %+v", got, want)
	}
	if r := got[4].Resolved(); r != "/etc/ipckeys/keys/a.key" {
		t.Errorf("relative path resolves to %q, want /etc/ipckeys/keys/a.key", r)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		line string
		want string // the whole error text
	}{
		{"a /x", `m:1: want at least name, path and proj, got 2 field(s): name path proj [type] [nattch] [owner] [flags] [exe=PATH]...`},
		{"a /x l shm 1 app config extra", `m:1: 8 fields, at most 7 before the exe= fields: name path proj [type] [nattch] [owner] [flags] [exe=PATH]... (write spaces in a path as \040)`},
		{"a /x l shm 1 app config extra exe=/w", `m:1: 8 fields, at most 7 before the exe= fields: name path proj [type] [nattch] [owner] [flags] [exe=PATH]... (write spaces in a path as \040)`},
		{"a /x l shm exe=/usr/bin/w 2", `m:1: field 6: "2" after an exe= field: write type, nattch, owner and flags before the exe= fields`},
		{"a /x l exe=/usr/bin/w exe=/usr/bin/r shm", `m:1: field 6: "shm" after an exe= field: write type, nattch, owner and flags before the exe= fields`},
		{"a /x l shm 2 app exe=bin/w", `m:1: field 7 (exe): exe=bin/w: give the executable's absolute path, as /proc/PID/exe shows it`},
		{"a /x l exe=", `m:1: field 4 (exe): exe=: give the executable's absolute path, as /proc/PID/exe shows it`},
		{`a /x l exe=/usr/bin/w exe=/usr/bin/r\000`, `m:1: field 5 (exe): an executable's path cannot hold a NUL byte`},
		{`a /x l exe=/usr/bin/w\04`, `m:1: field 4 (exe): incomplete escape "\\04": write a byte as a backslash and three octal digits (\040 is a space)`},
		{"a /x l shm 2 app config exe=/usr/bin/w unit=a.service", `m:1: field 9: "unit=a.service" after an exe= field: write type, nattch, owner and flags before the exe= fields`},
		{"a /x l exe", `m:1: field 4 (type): "exe" is not an IPC type: use shm, sem, msg or -`},
		{"a /x l shm 1 app cfg", `m:1: field 7 (flags): unknown flag "cfg": the only flag is config (the key file is a config file that deploys rewrite)`},
		{"a /x zz", `m:1: field 3 (proj): proj id "zz" is not a proj id: write a character (l), a quoted character ('1'), decimal (108) or hex (0x6c)`},
		{"a /x -", `m:1: field 3 (proj): a channel needs the proj id its programs pass to ftok`},
		{"a - l", `m:1: field 2 (path): a channel needs the path its programs pass to ftok`},
		{"a /x l shmem", `m:1: field 4 (type): "shmem" is not an IPC type: use shm, sem, msg or -`},
		{"a /x l shm two", `m:1: field 5 (nattch): "two" is not an attach count: use N, N-M or N+ (2, 1-3, 1+)`},
		{"a /x l shm 3-1", `m:1: field 5 (nattch): attach count range "3-1" runs backwards: write 1-3`},
		{"a /x l shm -1", `m:1: field 5 (nattch): "-1" is not an attach count: use N, N-M or N+ (2, 1-3, 1+)`},
		{"a /x l shm 1 bad*user", `m:1: field 6 (owner): "bad*user" is neither a user name nor a numeric uid`},
		{"-bad /x l", `m:1: field 1 (name): "-bad" is not a channel name: use letters, digits and _ . : @ / + -`},
		{`a /x\04 l`, `m:1: field 2 (path): incomplete escape "\\04": write a byte as a backslash and three octal digits (\040 is a space)`},
		{`a /x\999 l`, `m:1: field 2 (path): bad escape "\\999": write a byte as a backslash and three octal digits (\040 is a space)`},
		{`a /x\000 l`, `m:1: field 2 (path): a path cannot hold a NUL byte`},
		{"a /x\xff l", `m:1: not valid UTF-8: write such bytes in a path as octal escapes (\377)`},
	}
	for _, tc := range tests {
		_, err := manifest.Parse(strings.NewReader(tc.line+"\n"), "m")
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want error %s", tc.line, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("Parse(%q):\n got %s\nwant %s", tc.line, err, tc.want)
		}
		var me *manifest.Error
		if !errors.As(err, &me) || me.Line != 1 {
			t.Errorf("Parse(%q) error is not a *manifest.Error on line 1: %#v", tc.line, err)
		}
	}
}

func TestParseDuplicateName(t *testing.T) {
	_, err := manifest.Parse(strings.NewReader("a /x l\n\n# c\na /y l\n"), "m")
	want := `m:4: name: channel "a" is already defined on line 1: give each channel its own name`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestParseLongLine(t *testing.T) {
	_, err := manifest.Parse(strings.NewReader("a /x l\n"+strings.Repeat("x", 70000)+"\n"), "m")
	if err == nil || err.Error() != "m:2: line longer than 65536 bytes" {
		t.Errorf("got %v", err)
	}
}

func TestRange(t *testing.T) {
	r, err := manifest.ParseRange("2-4")
	if err != nil || r.Contains(1) || !r.Contains(2) || !r.Contains(4) || r.Contains(5) || r.String() != "2-4" {
		t.Errorf("2-4: %+v %v", r, err)
	}
	r, err = manifest.ParseRange("1+")
	if err != nil || r.Contains(0) || !r.Contains(1_000_000) || r.String() != "1+" {
		t.Errorf("1+: %+v %v", r, err)
	}
	r, err = manifest.ParseRange("0")
	if err != nil || !r.Contains(0) || r.Contains(1) || r.String() != "0" {
		t.Errorf("0: %+v %v", r, err)
	}
	for _, bad := range []string{"", "+", "1-", "-", "a", "1++", "99999999999", "+1", "1-+2"} {
		if _, err := manifest.ParseRange(bad); err == nil {
			t.Errorf("ParseRange(%q) succeeded", bad)
		}
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	for _, p := range []string{"/plain", "/a b", "/new\nline", `/back\slash`, "/tab\there", "/\xff\xfe", "/hash#x", "/é"} {
		line := "c " + manifest.Escape(p) + " l"
		got, err := manifest.Parse(strings.NewReader(line), "m")
		if err != nil {
			t.Fatalf("Parse(%q): %v", line, err)
		}
		if len(got) != 1 || got[0].Path != p {
			t.Errorf("Escape(%q) = %q, parsed back as %+v", p, manifest.Escape(p), got)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"orders /etc/app/orders.conf l shm 2 app\n",
		"a /x 0x41 msg 1-3 1000 # c\n",
		"a /my\\040app '1' - 0+ -\n",
		"# only a comment\n\n",
		"a /x l\na /y l\n",
		"a /x\\0 l\n",
		"a b c d e f g\n",
		"orders /k l shm 2 app exe=/usr/bin/w exe=/usr/bin/r\n",
		"orders /k l exe=/usr/bin/w\n",
		"a /x l exe=/my\\040app\\134x # c\n",
		"a /x l shm exe=/w 2\n",
		"a /x l exe=w\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		chans, err := manifest.Parse(strings.NewReader(s), "fuzz")
		if err != nil {
			var me *manifest.Error
			if errors.As(err, &me) && (me.Line < 1 || me.File != "fuzz") {
				t.Fatalf("error without a place: %#v", me)
			}
			return
		}
		names := map[string]bool{}
		for _, c := range chans {
			if c.Name == "" || c.Path == "" || names[c.Name] {
				t.Fatalf("bad channel %+v", c)
			}
			names[c.Name] = true
			if c.Nattch != nil {
				if r, err := manifest.ParseRange(c.Nattch.String()); err != nil || r != *c.Nattch {
					t.Fatalf("range %+v does not round-trip: %v", *c.Nattch, err)
				}
			}
			// A parsed path written back with Escape parses to itself.
			again, err := manifest.Parse(strings.NewReader("x "+manifest.Escape(c.Path)+" 1\n"), "fuzz")
			if err != nil || again[0].Path != c.Path {
				t.Fatalf("path %q does not round-trip: %v", c.Path, err)
			}
			// So do the executables, which are absolute.
			line := "x /k 1"
			for _, exe := range c.Exes {
				if !strings.HasPrefix(exe, "/") {
					t.Fatalf("executable %q is not absolute", exe)
				}
				line += " exe=" + manifest.Escape(exe)
			}
			again, err = manifest.Parse(strings.NewReader(line+"\n"), "fuzz")
			if err != nil || !reflect.DeepEqual(again[0].Exes, c.Exes) {
				t.Fatalf("executables %q do not round-trip: %v", c.Exes, err)
			}
		}
	})
}

func TestListeners(t *testing.T) {
	m, err := manifest.ParseManifest(strings.NewReader(`# listeners beside channels
orders  /etc/app/orders.conf  l
web     tcp:127.0.0.1:5555    exe=/usr/sbin/a
fcgi    unix:/run/app.sock    unit=app-fcgi.service exe=/usr/bin/php-cgi
`), "app.manifest")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Channels) != 1 || len(m.Listeners) != 2 {
		t.Fatalf("%d channels, %d listeners", len(m.Channels), len(m.Listeners))
	}
	web, fcgi := m.Listeners[0], m.Listeners[1]
	if web.Name != "web" || web.Endpoint.Proto != "tcp" || web.Endpoint.Port != 5555 || web.Exe != "/usr/sbin/a" || web.Line != 3 {
		t.Errorf("web: %+v", web)
	}
	if fcgi.Endpoint.Path != "/run/app.sock" || fcgi.Unit != "app-fcgi.service" || fcgi.Exe != "/usr/bin/php-cgi" {
		t.Errorf("fcgi: %+v", fcgi)
	}
	// Parse keeps the channels only.
	chans, err := manifest.Parse(strings.NewReader("web tcp:5555 exe=/usr/sbin/a\n"), "m")
	if err != nil || len(chans) != 0 {
		t.Errorf("Parse of a listener line: %v, %v", chans, err)
	}
	for line, want := range map[string]string{
		"web tcp:5555":                   "m:1: listener web names no holder",
		"web tcp:99999 exe=/a":           "m:1: field 2 (listener): ",
		"web tcp:5555 exe=a":             "m:1: field 3: exe=a: give the executable's absolute path",
		"web tcp:5555 user=x":            `m:1: field 3: unknown option "user"`,
		"web tcp:5555 exe=/a\nweb x.k l": `m:2: name: channel "web" is already defined on line 1`,
	} {
		_, err := manifest.ParseManifest(strings.NewReader(line+"\n"), "m")
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v, want %s…", line, err, want)
		}
	}
}
