package appconfig

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// keyFiles parses data as path and returns its key-file settings by the
// default rule or patterns, expanded from the file alone.
func keyFiles(t *testing.T, path, data string, patterns ...string) []KeyFileSetting {
	t.Helper()
	f, err := ParseFile(path, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := f.KeyFileSettings(patterns)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// A setting given twice is read once, at its last line, as the service
// reads it; its proj sibling too.
func TestRepeatedSetting(t *testing.T) {
	tests := []struct {
		name, data string
		want       []found
	}{
		{"overridden later", "shm_path = /data/a\nshm_proj = l\nshm_path = /data/b\n",
			[]found{{"shm_path", "/data/b", 3, 'l', "shm_proj", 2, false}}},
		{"section reopened", "[chnl]\nshm_path = /data/a\n[other]\nx = 1\n[chnl]\nshm_path = /data/b\n",
			[]found{{"chnl.shm_path", "/data/b", 6, -1, "", 0, false}}},
		{"overridden by an empty value", "shm_path = /data/a\nshm_path =\n",
			[]found{{"shm_path", "", 2, -1, "", 0, true}}},
		{"overridden by a value that is not a path", "shm_path = /data/a\nshm_path = none\n", []found{}},
		// Names are compared case-sensitively: these are two settings.
		{"names differing in case", "SHM_PATH=/data/a\nshm_path=/data/b\n", []found{
			{"SHM_PATH", "/data/a", 1, -1, "", 0, false},
			{"shm_path", "/data/b", 2, -1, "", 0, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sameFound(t, keyFiles(t, "a.conf", tt.data), tt.want)
			// The Config-level function reads them the same way.
			c, err := Parse("a.conf", []byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			ks, err := KeyFileSettings(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			sameFound(t, ks, tt.want)
		})
	}
	// JSON keeps both of a repeated key; the last wins there too.
	sameFound(t, keyFiles(t, "a.json", `{"shm_path": "/a", "shm_path": "/b"}`), []found{{"shm_path", "/b", 1, -1, "", 0, false}})
}

// Quoted values followed by a comment read as the quoted value.
func TestQuotedValueThenComment(t *testing.T) {
	tests := map[string]string{
		"key = '/x' ; comment":   "/x",
		`key = "/x" ; comment`:   "/x",
		`key = "/x" # comment`:   "/x",
		`key = "/x"# comment`:    "/x",
		`key = "/x" // comment`:  "/x",
		`key = "/x";`:            "/x",
		`key = "/x"; # comment`:  "/x",
		`key "/x" ; comment`:     "/x",
		"export KEY='/x' # note": "/x",
	}
	for line, want := range tests {
		settings, err := parseLines([]byte(line + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		if len(settings) != 1 {
			t.Fatalf("%q: %d settings", line, len(settings))
		}
		s := settings[0]
		if s.Value != want || !s.Quoted || s.Malformed != "" || !s.Set || s.Line != 1 {
			t.Errorf("%q: got %+v, want the quoted value %q", line, s, want)
		}
	}
	// Text that is not a comment after the quote is still an error.
	for _, line := range []string{`key = "/x" y`, `key = "/x"/y`, `key = '/x' /`} {
		settings, _ := parseLines([]byte(line))
		if len(settings) != 1 || settings[0].Malformed != "text after the closing quote: quote the whole value" {
			t.Errorf("%q: got %+v, want text after the closing quote", line, settings)
		}
	}
}

// Boost.Interprocess names its proj id "<prefix>_key_id" beside
// "<prefix>_key_path"; a bare "_id" is a proj id only there.
func TestKeyIDSiblings(t *testing.T) {
	tests := []struct {
		data string
		want []found
	}{
		{"xsi_key_path = /x\nxsi_key_id = 7\n", []found{{"xsi_key_path", "/x", 1, 7, "xsi_key_id", 2, false}}},
		{"xsiKeyPath = /x\nxsiKeyId = l\n", []found{{"xsiKeyPath", "/x", 1, 'l', "xsiKeyId", 2, false}}},
		{"shm_key_file = /x\nshm_key_id = 0x41\n", []found{{"shm_key_file", "/x", 1, 0x41, "shm_key_id", 2, false}}},
		{"[xsi]\nkey_path = /x\nkey_id = 9\n", []found{{"xsi.key_path", "/x", 2, 9, "xsi.key_id", 3, false}}},
		// The _proj spellings still count, and come first.
		{"xsi_key_path = /x\nxsi_key_id = 7\nxsi_key_proj = 8\n", []found{{"xsi_key_path", "/x", 1, 8, "xsi_key_proj", 3, false}}},
		// Not a key path: no _id sibling.
		{"shm_path = /x\nuser_id = 1000\n", []found{{"shm_path", "/x", 1, -1, "", 0, false}}},
		{"shm_path = /x\nshm_id = 65538\n", []found{{"shm_path", "/x", 1, -1, "", 0, false}}},
		{"shm_key_path = /x\nshm_id = 65538\n", []found{{"shm_key_path", "/x", 1, -1, "", 0, false}}},
		{"[shm]\nkey_path = /x\nid = 4\n", []found{{"shm.key_path", "/x", 2, -1, "", 0, false}}},
		{"[shm]\npath = /x\nid = 4\n", []found{{"shm.path", "/x", 2, -1, "", 0, false}}},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.data, "\n", " "), func(t *testing.T) {
			sameFound(t, keyFiles(t, "a.conf", tt.data), tt.want)
		})
	}
}

// Sockets, stores, spools, models, indexes, caches and shell commands are not
// key files; the real key files beside them still are.
func TestDefaultRuleDeployments(t *testing.T) {
	tests := []struct {
		name, data string
		want       []found
	}{
		{"geth", "IPCPath = \"geth.ipc\"\n", []found{}},
		{"ipc path to a .ipc socket", "ipc_path = /run/app/app.ipc\n", []found{}},
		{"msg store", "msg_store_file = /var/lib/app/store.db\n", []found{}},
		{"msg spool", "msg_spool_dir = /var/spool/app\n", []found{}},
		{"semantic model", "sem_model_path = /opt/models/m.bin\n", []found{}},
		{"semantic index", "sem_index_dir = /var/lib/app/index\n", []found{}},
		{"shm cache", "shm_cache_file = /dev/shm/app-cache\n", []found{}},
		{"command substitution", "shm_avail=$(findmnt -r -n -b -o AVAIL /dev/shm)\n", []found{}},
		{"backticks", "shm_dir=`mktemp -d /dev/shm/x.XXXX`\n", []found{}},
		{"key file named .ipc", "shm_key_file = /var/lib/app/app.ipc\n",
			[]found{{"shm_key_file", "/var/lib/app/app.ipc", 1, -1, "", 0, false}}},
		{"ipc key file named .ipc", "ipc_key_file = /var/lib/app/app.ipc\n",
			[]found{{"ipc_key_file", "/var/lib/app/app.ipc", 1, -1, "", 0, false}}},
		{"shm dir", "shm_dir = /dev/shm/app\n", []found{{"shm_dir", "/dev/shm/app", 1, -1, "", 0, false}}},
		{"msg queue path", "msg_queue_path = /var/lib/app/q\n", []found{{"msg_queue_path", "/var/lib/app/q", 1, -1, "", 0, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sameFound(t, keyFiles(t, "a.conf", tt.data), tt.want)
		})
	}
}

// Debian's /etc/chromium.d/dev-shm, a shell file read when scanning /etc/*/*.
func TestChromiumDevShm(t *testing.T) {
	path := filepath.Join("testdata", "negative", "chromium.d", "dev-shm")
	f, err := ParseFile(path, mustRead(t, path))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := f.KeyFileSettings(nil)
	if err != nil {
		t.Fatal(err)
	}
	sameFound(t, ks, []found{})
	if len(f.Settings) == 0 {
		t.Errorf("no settings read: the file was not read at all")
	}
}

// Apache-style "Directive value" lines inside <IfModule> blocks.
func TestApacheDirective(t *testing.T) {
	data := "<IfModule mod_app.c>\n    ShmKeyFile /var/run/app.shm\n    <IfModule mod_x.c>\n\tAppProj 7\n    </IfModule>\n</IfModule>\n"
	f, err := ParseFile("httpd.conf", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []Setting{
		{Name: "ShmKeyFile", Value: "/var/run/app.shm", Line: 2, Set: true},
		{Name: "AppProj", Value: "7", Line: 4, Set: true},
	}
	if !reflect.DeepEqual(f.Settings, want) {
		t.Errorf("got %+v\nwant %+v", f.Settings, want)
	}
	ks, err := f.KeyFileSettings([]string{"shmkeyfile"})
	if err != nil {
		t.Fatal(err)
	}
	sameFound(t, ks, []found{{"ShmKeyFile", "/var/run/app.shm", 2, -1, "", 0, false}})
	sameFound(t, keyFiles(t, "httpd.conf", data), []found{{"ShmKeyFile", "/var/run/app.shm", 2, -1, "", 0, false}})
}

// Bytes that are not UTF-8 are kept as they are.
func TestLinesNotUTF8(t *testing.T) {
	data := "# r\xe9sum\xe9 from a legacy editor\n[caf\xe9]\nshm_path = /data/caf\xe9 ; \xff\nname = \"\xe9t\xe9\"\n"
	lf, err := parseLineFile([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []Setting{
		{Name: "caf\xe9.shm_path", Value: "/data/caf\xe9", Line: 3, Set: true},
		{Name: "caf\xe9.name", Value: "\xe9t\xe9", Line: 4, Set: true, Quoted: true},
	}
	if !reflect.DeepEqual(lf.settings, want) {
		t.Errorf("got %+v\nwant %+v", lf.settings, want)
	}
	ks, err := KeyFileSettings(&Config{Path: "a.conf", Format: FormatLines, Settings: lf.settings}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameFound(t, ks, []found{{"caf\xe9.shm_path", "/data/caf\xe9", 3, -1, "", 0, false}})
	settings, _, err := parseUnit([]byte("[Service]\n# r\xe9sum\xe9\nEnvironment=SHM_KEY_FILE=/data/caf\xe9\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []Setting{{Name: "SHM_KEY_FILE", Value: "/data/caf\xe9", Line: 3, Set: true}}; !reflect.DeepEqual(settings, want) {
		t.Errorf("unit: got %+v\nwant %+v", settings, want)
	}
}

// Include directives of every form are recorded, and are not settings.
func TestIncludeDirectives(t *testing.T) {
	tests := []struct {
		data string
		want []Include // Line 1 unless set
	}{
		{"include /etc/app/extra.conf", []Include{{Pattern: "/etc/app/extra.conf"}}},
		{"Include /etc/ssh/sshd_config.d/*.conf", []Include{{Pattern: "/etc/ssh/sshd_config.d/*.conf", Glob: true}}},
		{".include /etc/pulse/default.pa", []Include{{Pattern: "/etc/pulse/default.pa"}}},
		{"@include common-auth", []Include{{Pattern: "common-auth"}}},
		{"!include /etc/mysql/extra.cnf", []Include{{Pattern: "/etc/mysql/extra.cnf"}}},
		{"!includedir /etc/mysql/conf.d/", []Include{{Pattern: "/etc/mysql/conf.d/", Dir: true}}},
		{"include = conf.d/*.conf", []Include{{Pattern: "conf.d/*.conf", Glob: true}}},
		{"\tinclude conf.d/*.conf;", []Include{{Pattern: "conf.d/*.conf", Glob: true}}},
		{"include \"with space.conf\" # note", []Include{{Pattern: "with space.conf"}}},
		{"IncludeOptional conf.d/*.conf", []Include{{Pattern: "conf.d/*.conf", Glob: true, Optional: true}}},
		{"include_dir = 'conf.d'", []Include{{Pattern: "conf.d", Dir: true}}},
		{"include_if_exists = 'extra.conf'", []Include{{Pattern: "extra.conf", Optional: true}}},
		{"[mysqld]\n!includedir /etc/mysql/mysql.conf.d", []Include{{Pattern: "/etc/mysql/mysql.conf.d", Line: 2, Dir: true}}},
		{"[server]\ninclude extra.conf", []Include{{Pattern: "extra.conf", Line: 2}}},
		// Not include directives.
		{"include", nil},
		{"include =", nil},
		{"include: x.conf", nil},
		{"[run]\ninclude = src/*", nil},
		{"!include", nil},
		{"#include <stdio.h>", nil},
		{"includes = a", nil},
	}
	for _, tt := range tests {
		lf, err := parseLineFile([]byte(tt.data))
		if err != nil {
			t.Fatal(err)
		}
		for i := range tt.want {
			if tt.want[i].Line == 0 {
				tt.want[i].Line = 1
			}
		}
		if !reflect.DeepEqual(lf.includes, tt.want) {
			t.Errorf("%q: includes %+v, want %+v", tt.data, lf.includes, tt.want)
		}
		if tt.want != nil && len(lf.settings) != 0 {
			t.Errorf("%q: include read as settings %+v", tt.data, lf.settings)
		}
	}
}

// writeTree writes files (name -> content) under a new directory and
// returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loaded is one file of a Load as the tests compare it.
type loaded struct {
	Path  string
	Chain []string
	Found []found
}

func loadAll(t *testing.T, l *Loader, dir, name string) ([]loaded, error) {
	t.Helper()
	files, err := l.Load(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	var out []loaded
	for _, f := range files {
		ks, err := f.KeyFileSettings(nil)
		if err != nil {
			t.Fatal(err)
		}
		var chain []string
		for _, c := range f.Chain {
			chain = append(chain, strings.TrimPrefix(c, dir+"/"))
		}
		out = append(out, loaded{strings.TrimPrefix(f.Path, dir+"/"), chain, summarize(ks)})
	}
	return out, nil
}

func TestLoadIncludes(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"app.conf":          "# the main file\ninclude conf.d/*.conf\nshm_path = /data/main\n!includedir my.d\ninclude = shared.conf\ninclude mime.types;\n",
		"conf.d/b.conf":     "chnl_b_shm_path = /data/b\ninclude ../shared.conf\n",
		"conf.d/a.conf":     "chnl_a_shm_path = /data/a\n",
		"conf.d/a.conf.bak": "chnl_old_shm_path = /data/old\n",
		"my.d/x.cnf":        "[mysqld]\nshm_key_file = /data/x\n",
		"my.d/y.conf":       "[y]\nshm_key_file = /data/y\n",
		"my.d/z.txt":        "shm_key_file = /data/z\n",
		"shared.conf":       "shared_shm_path = /data/shared\n",
		"mime.types":        "types {\n    text/html html;\n}\n",
	})
	got, err := loadAll(t, &Loader{}, dir, "app.conf")
	if err != nil {
		t.Fatal(err)
	}
	want := []loaded{
		{"app.conf", nil, []found{{"shm_path", "/data/main", 3, -1, "", 0, false}}},
		{"conf.d/a.conf", []string{"app.conf"}, []found{{"chnl_a_shm_path", "/data/a", 1, -1, "", 0, false}}},
		{"conf.d/b.conf", []string{"app.conf"}, []found{{"chnl_b_shm_path", "/data/b", 1, -1, "", 0, false}}},
		// Included from b.conf first, then from app.conf: read once.
		{"shared.conf", []string{"app.conf", "conf.d/b.conf"}, []found{{"shared_shm_path", "/data/shared", 1, -1, "", 0, false}}},
		{"my.d/x.cnf", []string{"app.conf"}, []found{{"mysqld.shm_key_file", "/data/x", 2, -1, "", 0, false}}},
		{"my.d/y.conf", []string{"app.conf"}, []found{{"y.shm_key_file", "/data/y", 2, -1, "", 0, false}}},
		{"mime.types", []string{"app.conf"}, []found{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
}

func TestLoadIncludeErrors(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		depth  int
		want   string // the error less the directory; "" for none
		files2 int    // files read when there is no error
	}{
		{"cycle", map[string]string{"a.conf": "include b.conf\n", "b.conf": "x = 1\ninclude a.conf\n"}, 0,
			"b.conf:2: include cycle DIR/a.conf -> DIR/b.conf -> DIR/a.conf: remove one of the includes", 0},
		{"self", map[string]string{"a.conf": "include ./a.conf\n"}, 0,
			"a.conf:1: include cycle DIR/a.conf -> DIR/a.conf: remove one of the includes", 0},
		{"glob cycle", map[string]string{"a.conf": "include *.conf\n"}, 0,
			"a.conf:1: include cycle DIR/a.conf -> DIR/a.conf: remove one of the includes", 0},
		{"missing file", map[string]string{"a.conf": "x = 1\ninclude missing.conf\n"}, 0,
			"a.conf:2: included file DIR/missing.conf: open DIR/missing.conf: no such file or directory: fix the include or the file", 0},
		{"missing directory", map[string]string{"a.cnf": "!includedir /nonexistent/conf.d\ninclude_dir = 'none.d'\n"}, 0, "", 1},
		{"control character", map[string]string{"a.conf": "include x\ry.conf\n"}, 0,
			`a.conf:1: include "x\ry.conf": the name holds a control character: fix the include`, 0},
		{"glob matching nothing", map[string]string{"a.conf": "include conf.d/*.conf\n"}, 0, "", 1},
		{"optional missing", map[string]string{"a.conf": "IncludeOptional none.conf\ninclude_if_exists = 'x.conf'\n"}, 0, "", 1},
		{"empty directory", map[string]string{"a.cnf": "!includedir e\n", "e/README": "x"}, 0, "", 1},
		{"binary include", map[string]string{"a.conf": "include b.conf\n", "b.conf": "\x00\x01"}, 0,
			"a.conf:1: included file: DIR/b.conf: not a configuration file: binary data: fix the include or the file", 0},
		{"too deep", map[string]string{"a.conf": "include b.conf\n", "b.conf": "include c.conf\n", "c.conf": "include d.conf\n", "d.conf": "x = 1\n"}, 3,
			"c.conf:1: includes nested deeper than 3 files (DIR/a.conf -> DIR/b.conf -> DIR/c.conf -> DIR/d.conf): flatten the includes", 0},
		{"deep enough", map[string]string{"a.conf": "include b.conf\n", "b.conf": "include c.conf\n", "c.conf": "x = 1\n"}, 3, "", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			name := "a.conf"
			if _, ok := tt.files["a.cnf"]; ok {
				name = "a.cnf"
			}
			files, err := (&Loader{MaxDepth: tt.depth}).Load(filepath.Join(dir, name))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(files) != tt.files2 {
					t.Errorf("%d files read, want %d", len(files), tt.files2)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %s", tt.want)
			}
			got := strings.ReplaceAll(err.Error(), dir, "DIR")
			if got != "DIR/"+tt.want {
				t.Errorf("got  %s\nwant DIR/%s", got, tt.want)
			}
			checkOneLine(t, err)
		})
	}
	// A missing include stays detectable.
	dir := writeTree(t, map[string]string{"a.conf": "include b.conf\n"})
	if _, err := (&Loader{}).Load(filepath.Join(dir, "a.conf")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing include: %v does not wrap fs.ErrNotExist", err)
	}
	// The named file's own errors are returned as they are.
	if _, err := (&Loader{}).Load(filepath.Join(dir, "none.conf")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	dir = writeTree(t, map[string]string{"a.lock": "\x00"})
	if _, err := (&Loader{}).Load(filepath.Join(dir, "a.lock")); !errors.Is(err, ErrNotConfig) {
		t.Errorf("key file: %v, want ErrNotConfig", err)
	}
}

// exp is an expanded key-file setting as the tests compare it.
type exp struct {
	Name, Value, Raw string
	Line             int
	Unresolved       []string
}

func expanded(ks []KeyFileSetting) []exp {
	out := []exp{}
	for _, k := range ks {
		out = append(out, exp{k.Name, k.Value, k.Raw, k.Line, k.Unresolved})
	}
	return out
}

func TestExpansion(t *testing.T) {
	env := Env{
		Vars: map[string]string{"HOME": "/home/svc", "APP_DATA": "/from/env", "STATE": "/var/lib/state"},
		HomeDir: func(user string) (string, bool) {
			if user == "bob" {
				return "/home/bob", true
			}
			return "", false
		},
	}
	tests := []struct {
		name, data string
		env        Env
		want       []exp
	}{
		{"earlier assignment", "APP_DATA=/var/lib/app\nSHM_KEY_FILE=$APP_DATA/ipc.key\n", Env{},
			[]exp{{"SHM_KEY_FILE", "/var/lib/app/ipc.key", "$APP_DATA/ipc.key", 2, nil}}},
		{"braces, export and double quotes", "export APP_DATA=/var/lib/app\nexport SHM_KEY_FILE=\"${APP_DATA}/ipc.key\"\n", Env{},
			[]exp{{"SHM_KEY_FILE", "/var/lib/app/ipc.key", "${APP_DATA}/ipc.key", 2, nil}}},
		{"chained variables", "A=/a\nB=$A/b\nSHM_KEY_FILE=$B/k\n", Env{},
			[]exp{{"SHM_KEY_FILE", "/a/b/k", "$B/k", 3, nil}}},
		{"the file before the environment", "APP_DATA=/var/lib/app\nSHM_KEY_FILE=$APP_DATA/ipc.key\n", env,
			[]exp{{"SHM_KEY_FILE", "/var/lib/app/ipc.key", "$APP_DATA/ipc.key", 2, nil}}},
		{"the environment", "SHM_KEY_FILE=$APP_DATA/ipc.key\nAPP_DATA=/later\n", env,
			[]exp{{"SHM_KEY_FILE", "/from/env/ipc.key", "$APP_DATA/ipc.key", 1, nil}}},
		{"a later assignment does not count", "SHM_KEY_FILE=$APP_DATA/ipc.key\nAPP_DATA=/later\n", Env{},
			[]exp{{"SHM_KEY_FILE", "$APP_DATA/ipc.key", "$APP_DATA/ipc.key", 1, []string{"$APP_DATA"}}}},
		{"unresolved", "SHM_KEY_FILE=${NOPE}/ipc.key\n", env,
			[]exp{{"SHM_KEY_FILE", "${NOPE}/ipc.key", "${NOPE}/ipc.key", 1, []string{"${NOPE}"}}}},
		{"unresolved through a variable", "A=$NOPE/a\nSHM_KEY_FILE=$A/k\n", Env{},
			[]exp{{"SHM_KEY_FILE", "$A/k", "$A/k", 2, []string{"$NOPE"}}}},
		{"default", "SHM_KEY_FILE=${NOPE:-/var/lib/app}/ipc.key\n", Env{},
			[]exp{{"SHM_KEY_FILE", "/var/lib/app/ipc.key", "${NOPE:-/var/lib/app}/ipc.key", 1, nil}}},
		{"default from a variable", "E=\nSHM_KEY_FILE=${E:-$STATE}/k\n", env,
			[]exp{{"SHM_KEY_FILE", "/var/lib/state/k", "${E:-$STATE}/k", 2, nil}}},
		{"set but empty without the colon", "E=\nSHM_KEY_FILE=${E-/x}/k\n", Env{},
			[]exp{{"SHM_KEY_FILE", "/k", "${E-/x}/k", 2, nil}}},
		{"home", "SHM_KEY_FILE=~/ipc.key\n", env,
			[]exp{{"SHM_KEY_FILE", "/home/svc/ipc.key", "~/ipc.key", 1, nil}}},
		{"home from the file", "HOME=/srv/app\nSHM_KEY_FILE=~/ipc.key\n", env,
			[]exp{{"SHM_KEY_FILE", "/srv/app/ipc.key", "~/ipc.key", 2, nil}}},
		{"no home", "SHM_KEY_FILE=~/ipc.key\n", Env{},
			[]exp{{"SHM_KEY_FILE", "~/ipc.key", "~/ipc.key", 1, []string{"~"}}}},
		{"a user's home", "SHM_KEY_FILE=~bob/ipc.key\n", env,
			[]exp{{"SHM_KEY_FILE", "/home/bob/ipc.key", "~bob/ipc.key", 1, nil}}},
		{"an unknown user's home", "SHM_KEY_FILE=~eve/ipc.key\n", env,
			[]exp{{"SHM_KEY_FILE", "~eve/ipc.key", "~eve/ipc.key", 1, []string{"~eve"}}}},
		{"single quotes are literal", "APP_DATA=/var/lib/app\nSHM_KEY_FILE='$APP_DATA/ipc.key'\n", env,
			[]exp{{"SHM_KEY_FILE", "$APP_DATA/ipc.key", "$APP_DATA/ipc.key", 2, nil}}},
		{"an escaped dollar is literal", "SHM_KEY_FILE=\"\\$APP_DATA/ipc.key\"\n", env,
			[]exp{{"SHM_KEY_FILE", "$APP_DATA/ipc.key", "$APP_DATA/ipc.key", 1, nil}}},
		{"a variable in a section is not one", "[a]\nAPP_DATA=/x\n[b]\nshm_path=$APP_DATA/k\n", Env{},
			[]exp{{"b.shm_path", "$APP_DATA/k", "$APP_DATA/k", 4, []string{"$APP_DATA"}}}},
		{"a lone dollar", "shm_path=/data/$/x$\n", Env{},
			[]exp{{"shm_path", "/data/$/x$", "/data/$/x$", 1, nil}}},
		{"unterminated brace", "shm_path=/data/${X\n", env,
			[]exp{{"shm_path", "/data/${X", "/data/${X", 1, []string{"${X"}}}},
		{"another operator", "shm_path=/data/${X:+y}\n", env,
			[]exp{{"shm_path", "/data/${X:+y}", "/data/${X:+y}", 1, []string{"${X:+y}"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{"app.env": tt.data})
			files, err := (&Loader{Env: tt.env}).Load(filepath.Join(dir, "app.env"))
			if err != nil {
				t.Fatal(err)
			}
			ks, err := files[0].KeyFileSettings(nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := expanded(ks); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
	// A command substitution is not taken by the default rule; named by a
	// pattern, it is unresolved.
	ks := keyFiles(t, "a.env", "SHM_KEY_FILE=$(cat /etc/app/where)/k\n", "shm_key_file")
	if got, want := expanded(ks), []exp{{"SHM_KEY_FILE", "$(cat /etc/app/where)/k", "$(cat /etc/app/where)/k", 1, []string{"$(cat /etc/app/where)"}}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	// The Config-level function expands nothing.
	c, _ := Parse("a.env", []byte("A=/a\nSHM_KEY_FILE=$A/k\n"))
	ks, _ = KeyFileSettings(c, nil)
	if got, want := expanded(ks), []exp{{"SHM_KEY_FILE", "$A/k", "$A/k", 2, nil}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// Variables set before an include are seen by the included file; those set
// after it are not.
func TestExpansionThroughIncludes(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"app.env":      "APP_DATA=/var/lib/app\ninclude conf.d/*.env\nLATE=/late\n",
		"conf.d/a.env": "SHM_KEY_FILE=$APP_DATA/a.key\nSEM_KEY_FILE=$LATE/b.key\n",
	})
	files, err := (&Loader{}).Load(filepath.Join(dir, "app.env"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("%d files", len(files))
	}
	ks, err := files[1].KeyFileSettings(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []exp{
		{"SHM_KEY_FILE", "/var/lib/app/a.key", "$APP_DATA/a.key", 1, nil},
		{"SEM_KEY_FILE", "$LATE/b.key", "$LATE/b.key", 2, []string{"$LATE"}},
	}
	if got := expanded(ks); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// Expansion stays bounded when variables double at every line.
func TestExpansionBound(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("A0=/xxxxxxxx\n")
	for i := 1; i <= 40; i++ {
		sb.WriteString("A" + itoa(i) + "=$A" + itoa(i-1) + "$A" + itoa(i-1) + "\n")
	}
	sb.WriteString("SHM_KEY_FILE=$A40/k\n")
	ks := keyFiles(t, "a.env", sb.String())
	if len(ks) != 1 || len(ks[0].Unresolved) != 1 || ks[0].Value != "$A40/k" || !strings.Contains(ks[0].Unresolved[0], "expands past 4096 bytes") {
		t.Errorf("got %+v", ks)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestSystemdUnits(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"system/app.service": `[Unit]
Description=App with SysV IPC

[Service]
Environment=SHM_KEY_FILE=/var/lib/app/ipc.key
Environment="SEM_KEY_FILE=/var/lib/app/sem key" 'MSG_KEY_FILE=/var/lib/app/msg' LANG=C
Environment=A=1 \
  SHM_PROJ=l
EnvironmentFile=-/nonexistent/default/app
EnvironmentFile=../default/app
ExecStart=/usr/bin/app --config /etc/app/app.conf
`,
		"system/app.service.d/override.conf": "[Service]\nEnvironment=SHM_KEY_FILE=/srv/app/ipc.key\nEnvironment=\nEnvironment=MSG_KEY_FILE=/srv/app/msg\n",
		"default/app":                        "# sourced\nAPP_DATA=/var/lib/app\nCHNL_SHM_PATH=$APP_DATA/chnl\n",
		"system/other.d/x.conf":              "[Journal]\nStorage=volatile\n",
	})
	files, err := (&Loader{}).Load(filepath.Join(dir, "system/app.service"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].Format != FormatSystemd || files[1].Format != FormatLines {
		t.Fatalf("read %d files", len(files))
	}
	wantSettings := []Setting{
		{Name: "Unit.Description", Value: "App with SysV IPC", Line: 2, Set: true},
		{Name: "SHM_KEY_FILE", Value: "/var/lib/app/ipc.key", Line: 5, Set: true},
		{Name: "SEM_KEY_FILE", Value: "/var/lib/app/sem key", Line: 6, Set: true, Quoted: true},
		{Name: "MSG_KEY_FILE", Value: "/var/lib/app/msg", Line: 6, Set: true, Quoted: true},
		{Name: "LANG", Value: "C", Line: 6, Set: true},
		{Name: "A", Value: "1", Line: 7, Set: true},
		{Name: "SHM_PROJ", Value: "l", Line: 7, Set: true},
		{Name: "Service.ExecStart", Value: "/usr/bin/app --config /etc/app/app.conf", Line: 11, Set: true},
	}
	if !reflect.DeepEqual(files[0].Settings, wantSettings) {
		t.Errorf("settings\n got  %+v\n want %+v", files[0].Settings, wantSettings)
	}
	wantIncludes := []Include{
		{Pattern: "/nonexistent/default/app", Line: 9, Optional: true, Env: true},
		{Pattern: "../default/app", Line: 10, Env: true},
	}
	if !reflect.DeepEqual(files[0].Includes, wantIncludes) {
		t.Errorf("includes\n got  %+v\n want %+v", files[0].Includes, wantIncludes)
	}
	ks, err := files[0].KeyFileSettings(nil)
	if err != nil {
		t.Fatal(err)
	}
	sameFound(t, ks, []found{
		{"SHM_KEY_FILE", "/var/lib/app/ipc.key", 5, 'l', "SHM_PROJ", 7, false},
		{"SEM_KEY_FILE", "/var/lib/app/sem key", 6, -1, "", 0, false},
		{"MSG_KEY_FILE", "/var/lib/app/msg", 6, -1, "", 0, false},
	})
	ks, err = files[1].KeyFileSettings(nil)
	if err != nil {
		t.Fatal(err)
	}
	sameFound(t, ks, []found{{"CHNL_SHM_PATH", "/var/lib/app/chnl", 3, -1, "", 0, false}})

	// A drop-in: an empty Environment= clears what came before it.
	files, err = (&Loader{}).Load(filepath.Join(dir, "system/app.service.d/override.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if files[0].Format != FormatSystemd {
		t.Fatalf("drop-in read as %s", files[0].Format)
	}
	ks, _ = files[0].KeyFileSettings(nil)
	sameFound(t, ks, []found{{"MSG_KEY_FILE", "/srv/app/msg", 4, -1, "", 0, false}})
	// A .conf under another *.d directory without a unit section is not a unit.
	files, err = (&Loader{}).Load(filepath.Join(dir, "system/other.d/x.conf"))
	if err != nil || files[0].Format != FormatLines {
		t.Fatalf("got %v, %v", files, err)
	}
}

func TestUnitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []unitWord
		ok   bool
	}{
		{`A=1 B=2`, []unitWord{{"A=1", false}, {"B=2", false}}, true},
		{`"A=1 2"  'B=x y'`, []unitWord{{"A=1 2", true}, {"B=x y", true}}, true},
		{`A="1 2"`, []unitWord{{"A=1 2", true}}, true},
		{`A=\"x\ y`, []unitWord{{`A="x y`, false}}, true},
		{`A="x`, nil, false},
		{``, nil, true},
	}
	for _, tt := range tests {
		got, ok := unitWords(tt.in)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("unitWords(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
