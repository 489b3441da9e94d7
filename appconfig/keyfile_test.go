package appconfig

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// found is a key-file setting as the tests compare it: the sibling as name and
// line only.
type found struct {
	Name     string
	Value    string
	Line     int
	Proj     int // -1 when there is no sibling proj
	ProjName string
	ProjLine int
	Empty    bool
}

func (f found) String() string {
	return fmt.Sprintf("%s=%q line %d proj %d (%s line %d) empty=%v", f.Name, f.Value, f.Line, f.Proj, f.ProjName, f.ProjLine, f.Empty)
}

func summarize(ks []KeyFileSetting) []found {
	out := []found{}
	for _, k := range ks {
		f := found{Name: k.Name, Value: k.Value, Line: k.Line, Proj: -1, Empty: k.Empty}
		if k.HasProj {
			f.Proj = k.Proj
			f.ProjName, f.ProjLine = k.ProjSetting.Name, k.ProjSetting.Line
		}
		out = append(out, f)
	}
	return out
}

func sameFound(t *testing.T, got []KeyFileSetting, want []found) {
	t.Helper()
	g := summarize(got)
	if len(g) != len(want) {
		t.Fatalf("got %d key-file settings, want %d:\n got  %v\n want %v", len(g), len(want), g, want)
	}
	for i := range g {
		if g[i] != want[i] {
			t.Errorf("key-file setting %d:\n got  %v\n want %v", i, g[i], want[i])
		}
	}
}

// The incident: A talks to B and C over two channels; B and C run the same
// code, each with its own key file, in every format a service might use.
func TestIncidentLayouts(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		format string
		data   string
		want   []found
	}{
		{
			name: "ini colon, A", path: "app/A.conf", format: FormatLines,
			data: `# A talks to B and C
chnl_b_shm_path : /data/path_B
chnl_b_shm_proj : l

chnl_c_shm_path : /data/path_C
chnl_c_shm_proj : 'm'
log_level : 3
`,
			want: []found{
				{"chnl_b_shm_path", "/data/path_B", 2, 'l', "chnl_b_shm_proj", 3, false},
				{"chnl_c_shm_path", "/data/path_C", 5, 'm', "chnl_c_shm_proj", 6, false},
			},
		},
		{
			name: "ini colon, B", path: "app/B.conf", format: FormatLines,
			data: "chnl_shm_path : /data/path_B\n",
			want: []found{{"chnl_shm_path", "/data/path_B", 1, -1, "", 0, false}},
		},
		{
			name: "ini colon, C with a relative name and CRLF", path: "app/C.conf", format: FormatLines,
			data: "workers : 4\r\nchnl_shm_path : path_C\r\nchnl_shm_proj : 108\r\n",
			want: []found{{"chnl_shm_path", "path_C", 2, 108, "chnl_shm_proj", 3, false}},
		},
		{
			name: "ini equals with sections, A", path: "app/A.ini", format: FormatLines,
			data: `[global]
log_dir = /var/log/app
workers = 4

[chnl_b]
shm_path = /data/path_B   ; the B channel
shm_proj = 0x6c

[chnl_c]
shm_path = "/data/path_C"  # the C channel
shm_proj = 109
`,
			want: []found{
				{"chnl_b.shm_path", "/data/path_B", 6, 108, "chnl_b.shm_proj", 7, false},
				{"chnl_c.shm_path", "/data/path_C", 10, 109, "chnl_c.shm_proj", 11, false},
			},
		},
		{
			name: "ini equals with sections, B", path: "app/B.cfg", format: FormatLines,
			data: "[channel]\nshm_path=/data/path_B\nproj_id='l'\n",
			want: []found{{"channel.shm_path", "/data/path_B", 2, 'l', "channel.proj_id", 3, false}},
		},
		{
			name: "env file, A", path: "app/A.env", format: FormatLines,
			data: `# sourced by the unit file
export CHNL_B_SHM_PATH="/data/path_B"
export CHNL_B_SHM_PROJ='l'
CHNL_C_SHM_PATH='/data/path_C'
CHNL_C_SHM_PROJ=109
export LANG=C.UTF-8
`,
			want: []found{
				{"CHNL_B_SHM_PATH", "/data/path_B", 2, 'l', "CHNL_B_SHM_PROJ", 3, false},
				{"CHNL_C_SHM_PATH", "/data/path_C", 4, 'm', "CHNL_C_SHM_PROJ", 5, false},
			},
		},
		{
			name: "env file, B", path: "app/.env", format: FormatLines,
			data: "export\tChnlShmPath=\"/data/path_B\"\nexport ChnlShmProj=\"0x6c\"\n",
			want: []found{{"ChnlShmPath", "/data/path_B", 1, 108, "ChnlShmProj", 2, false}},
		},
		{
			name: "yaml, A", path: "app/A.yaml", format: FormatYAML,
			data: `channels:
  b:
    shm_path: /data/path_B
    shm_proj: l
  c:
    shm_path: "/data/path_C"
    shm_proj: 0x6d
log:
  level: 3
`,
			want: []found{
				{"channels.b.shm_path", "/data/path_B", 3, 'l', "channels.b.shm_proj", 4, false},
				{"channels.c.shm_path", "/data/path_C", 6, 'm', "channels.c.shm_proj", 7, false},
			},
		},
		{
			name: "yaml list, A", path: "app/A.yml", format: FormatYAML,
			data: `chnl:
  - peer: B
    shm:
      keyfile: /data/path_B
      proj: 'l'
  - peer: C
    shm:
      keyfile: /data/path_C
`,
			want: []found{
				{"chnl.0.shm.keyfile", "/data/path_B", 4, 'l', "chnl.0.shm.proj", 5, false},
				{"chnl.1.shm.keyfile", "/data/path_C", 8, -1, "", 0, false},
			},
		},
		{
			name: "yaml, B", path: "app/B.yaml", format: FormatYAML,
			data: "---\nchnl_shm_path: /data/path_B\nchnl_shm_proj: 108\n",
			want: []found{{"chnl_shm_path", "/data/path_B", 2, 108, "chnl_shm_proj", 3, false}},
		},
		{
			name: "json, A", path: "app/A.json", format: FormatJSON,
			data: `{
  "chnl_b": {"shm_path": "/data/path_B", "shm_proj": "l"},
  "chnl_c": {
    "shm_path": "/data/path_C",
    "shm_proj": 109
  },
  "workers": 4
}
`,
			want: []found{
				{"chnl_b.shm_path", "/data/path_B", 2, 'l', "chnl_b.shm_proj", 2, false},
				{"chnl_c.shm_path", "/data/path_C", 4, 'm', "chnl_c.shm_proj", 5, false},
			},
		},
		{
			name: "json, B", path: "app/B.json", format: FormatJSON,
			data: `{"ipc": {"shmKeyPath": "/data/path_B", "shmProj": "0x6c"}}`,
			want: []found{{"ipc.shmKeyPath", "/data/path_B", 1, 108, "ipc.shmProj", 1, false}},
		},
		{
			name: "toml, A", path: "app/A.toml", format: FormatTOML,
			data: `# A talks to B and C
[chnl.b]
shm_path = "/data/path_B"
shm_proj = "l"

[chnl.c]
shm_path = '/data/path_C'
shm_proj = 0x6d
`,
			want: []found{
				{"chnl.b.shm_path", "/data/path_B", 3, 'l', "chnl.b.shm_proj", 4, false},
				{"chnl.c.shm_path", "/data/path_C", 7, 'm', "chnl.c.shm_proj", 8, false},
			},
		},
		{
			name: "toml array of tables, A", path: "app/A.toml", format: FormatTOML,
			data: `[[channel]]
peer = "B"
ipc.shm_key_file = "/data/path_B"
ipc.shm_proj = 108

[[channel]]
peer = "C"
ipc = { shm_key_file = "/data/path_C", shm_proj = "m" }
`,
			want: []found{
				{"channel.0.ipc.shm_key_file", "/data/path_B", 3, 108, "channel.0.ipc.shm_proj", 4, false},
				{"channel.1.ipc.shm_key_file", "/data/path_C", 8, 'm', "channel.1.ipc.shm_proj", 8, false},
			},
		},
		{
			name: "toml, B", path: "app/B.toml", format: FormatTOML,
			data: "chnl_shm_path = \"/data/path_B\"\n",
			want: []found{{"chnl_shm_path", "/data/path_B", 1, -1, "", 0, false}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.path, []byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if c.Format != tt.format || c.Path != tt.path {
				t.Errorf("Parse gave format %q path %q, want %q %q", c.Format, c.Path, tt.format, tt.path)
			}
			got, err := KeyFileSettings(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			sameFound(t, got, tt.want)
		})
	}
}

func TestYAMLAliasesAndMerges(t *testing.T) {
	data := `defaults: &defaults
  shm_proj: l
  workers: 2
b:
  <<: *defaults
  shm_path: /data/path_B
c:
  <<: [*defaults]
  shm_path: /data/path_C
  shm_proj: m
`
	c, err := Parse("x.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	got, err := KeyFileSettings(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	// B's proj comes from the anchored defaults (line 2); C sets its own.
	sameFound(t, got, []found{
		{"b.shm_path", "/data/path_B", 6, 'l', "b.shm_proj", 2, false},
		{"c.shm_path", "/data/path_C", 9, 'm', "c.shm_proj", 10, false},
	})
}

func TestProjSiblings(t *testing.T) {
	tests := []struct {
		data string
		want []found
	}{
		// Every suffix and separator style.
		{"a_shm_path=/x\na_shm_proj_id=l\n", []found{{"a_shm_path", "/x", 1, 'l', "a_shm_proj_id", 2, false}}},
		{"a-shm-path=/x\na-shm-projid=0x41\n", []found{{"a-shm-path", "/x", 1, 0x41, "a-shm-projid", 2, false}}},
		{"a.shm.keyfile=/x\na.shm.ftok_proj=7\n", []found{{"a.shm.keyfile", "/x", 1, 7, "a.shm.ftok_proj", 2, false}}},
		{"aShmKeyFile=/x\naShmProj=l\n", []found{{"aShmKeyFile", "/x", 1, 'l', "aShmProj", 2, false}}},
		{"a_shm_key_path=/x\na_shm_key_proj=l\na_shm_proj=m\n", []found{{"a_shm_key_path", "/x", 1, 'l', "a_shm_key_proj", 2, false}}},
		// "key path" drops both words when that is what matches.
		{"a_shm_key_path=/x\na_shm_proj=m\n", []found{{"a_shm_key_path", "/x", 1, 'm', "a_shm_proj", 2, false}}},
		// Case differs between the two: still siblings.
		{"SHM_PATH=/x\nshm_proj=l\n", []found{{"SHM_PATH", "/x", 1, 'l', "shm_proj", 2, false}}},
		// The last of two wins.
		{"shm_path=/x\nshm_proj=l\nshm_proj_id=m\n", []found{{"shm_path", "/x", 1, 'm', "shm_proj_id", 3, false}}},
		// Another channel's proj is not a sibling.
		{"b_shm_path=/x\nc_shm_proj=l\n", []found{{"b_shm_path", "/x", 1, -1, "", 0, false}}},
		// A section's proj is a sibling of the section's key file.
		{"[shm]\npath=/x\nproj=l\n", []found{{"shm.path", "/x", 2, 'l', "shm.proj", 3, false}}},
		{"keyfile=/x\nproj=l\n", []found{{"keyfile", "/x", 1, 'l', "proj", 2, false}}},
		// Quoted letters are unquoted; a quoted number of two digits is a number.
		{"shm_path=/x\nshm_proj=\"12\"\n", []found{{"shm_path", "/x", 1, 12, "shm_proj", 2, false}}},
	}
	for _, tt := range tests {
		c, err := Parse("a.conf", []byte(tt.data))
		if err != nil {
			t.Fatal(err)
		}
		got, err := KeyFileSettings(c, nil)
		if err != nil {
			t.Errorf("%q: %v", tt.data, err)
			continue
		}
		t.Run(strings.ReplaceAll(tt.data, "\n", " "), func(t *testing.T) { sameFound(t, got, tt.want) })
	}
}

func TestPatterns(t *testing.T) {
	data := `[svc]
conf.chnl_path = /data/path_B
conf.chnl_proj = l
Conf.Other =
hostkey = /etc/ssh/k
shm_path = /data/path_C
`
	c, err := Parse("a.conf", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	// Patterns replace the default rule: shm_path is not taken, and a
	// crypto-sounding name is, when it is named.
	got, err := KeyFileSettings(c, []string{"SVC.CONF.*", "*.hostkey"})
	if err != nil {
		t.Fatal(err)
	}
	sameFound(t, got, []found{
		{"svc.conf.chnl_path", "/data/path_B", 2, 'l', "svc.conf.chnl_proj", 3, false},
		// chnl_proj matches the pattern too: it is the user's pattern.
		{"svc.conf.chnl_proj", "l", 3, -1, "", 0, false},
		{"svc.Conf.Other", "", 4, -1, "", 0, true},
		{"svc.hostkey", "/etc/ssh/k", 5, -1, "", 0, false},
	})
	got, err = KeyFileSettings(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameFound(t, got, []found{{"svc.shm_path", "/data/path_C", 6, -1, "", 0, false}})

	for _, p := range []string{"", "[", "a[", `a\`} {
		if err := ValidatePattern(p); err == nil {
			t.Errorf("ValidatePattern(%q) = nil, want an error", p)
		}
		if _, err := KeyFileSettings(c, []string{p}); err == nil {
			t.Errorf("KeyFileSettings with pattern %q: no error", p)
		}
	}
	for _, p := range []string{"*.shm_path", "chnl_?_path", "[a-z]*"} {
		if err := ValidatePattern(p); err != nil {
			t.Errorf("ValidatePattern(%q) = %v", p, err)
		}
	}
	if got, err := KeyFileSettings(nil, nil); got != nil || err != nil {
		t.Errorf("KeyFileSettings(nil) = %v, %v", got, err)
	}
}

func TestTokenize(t *testing.T) {
	tests := map[string][]string{
		"chnl_shm_path":     {"chnl", "shm", "path"},
		"chnl.shm-path":     {"chnl", "shm", "path"},
		"chnlShmPath":       {"chnl", "shm", "path"},
		"ChnlSHMPath":       {"chnl", "shm", "path"},
		"IPCNamespacePath":  {"ipc", "namespace", "path"},
		"HostKey":           {"host", "key"},
		"x509_cert":         {"x509", "cert"},
		"shm2Path":          {"shm2", "path"},
		"SHM_KEY":           {"shm", "key"},
		"__a..b__":          {"a", "b"},
		"":                  nil,
		"ключ_shm_путь":     {"ключ", "shm", "путь"},
		"services.0.shmKey": {"services", "0", "shm", "key"},
	}
	for name, want := range tests {
		var got []string
		for _, tok := range tokenize(name) {
			got = append(got, tok.word)
			if w := strings.ToLower(name[tok.start:tok.end]); w != tok.word {
				t.Errorf("tokenize(%q): span %d:%d is %q, word %q", name, tok.start, tok.end, w, tok.word)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("tokenize(%q) = %q, want %q", name, got, want)
		}
	}
}

// The default rule, one setting at a time.
func TestDefaultRule(t *testing.T) {
	tests := []struct {
		name, value string
		want        string // "key", "empty" or "" (not a key-file setting)
	}{
		// The incident and its spellings.
		{"chnl_shm_path", "/data/path_B", "key"},
		{"chnl_shm_path", "path_B", "key"},
		{"chnl_shm_path", "./path_B", "key"},
		{"chnl_shm_path", "~/path_B", "key"},
		{"chnl_shm_path", "", "empty"},
		{"chnlShmPath", "/data/path_B", "key"},
		{"CHNL_SHM_PATH", "/data/path_B", "key"},
		{"ipc.shm.keyfile", "/data/path_B", "key"},
		{"shmpath", "/data/x", "key"},
		{"shmkey", "/data/x", "key"},
		{"ipckeyfile", "x.key", "key"},
		{"sem_key_file", "/var/lib/app/sem.key", "key"},
		{"msg_queue_path", "/var/lib/app/q", "key"},
		{"semaphore_file", "sem.lock", "key"},
		{"sysv_key_path", "/data/k", "key"},
		{"ftok_path", "/data/k", "key"},
		{"ftok_file", "", "empty"},
		{"shm_key", "/data/x", "key"},
		{"app.key_file", "/var/lib/app/ipc.token", "key"},
		{"app.KeyPath", "/var/lib/app/ipc", "key"},
		{"shm_dir", "/dev/shm/app", "key"},
		// IPC words without a path, or values that are not paths.
		{"shm_key", "path_B", ""},
		{"shm_key", "0x6c014001", ""},
		{"shm_key", "", ""},
		{"shm_size", "64M", ""},
		{"shm_file", "64M", ""},
		{"shm_path", "1.5", ""},
		{"shm_path", "-1", ""},
		{"shm_path", "true", ""},
		{"shm_path", "no", ""},
		{"shm_path", "none", ""},
		{"shm_path", "http://example.com/x", ""},
		{"shm_path", "file:///data/x", ""},
		{"shm_path", "/data/*.key", ""},
		{"shm_path", "/a\n/b", ""},
		{"shm_path", "a b", ""},
		{"shm_path", "a,b", ""},
		{"shm_path", "%s/%d", ""},
		{"ipc", "host", ""},
		{"ipc_mode", "shareable", ""},
		{"kernel.shmmax", "68719476736", ""},
		{"kernel.shm_rmid_forced", "1", ""},
		{"kernel.sem", "250 32000 100 128", ""},
		{"kernel.msgmax", "65536", ""},
		// Words that contain an IPC word are not it.
		{"semantic_path", "/data/x", ""},
		{"message_path", "/data/x", ""},
		{"semver_file", "/data/x", ""},
		// Not System V: sockets, namespaces, POSIX names, logs, pid files.
		{"ipc_socket_path", "/run/app.sock", ""},
		{"IPCPath", "/run/app/app.sock", ""},
		{"IPCNamespacePath", "/proc/1/ns/ipc", ""},
		{"shm_name", "/app_shm", ""},
		{"sem_name", "/app_sem", ""},
		{"posix_shm_path", "/dev/shm/x", ""},
		{"ipc_log_file", "/var/log/ipc.log", ""},
		{"shm_pid_file", "/run/app.pid", ""},
		{"shm_path_prefix", "/dev/shm/app_", ""},
		{"msg_format", "%s/%s", ""},
		{"shm_url", "/x", ""},
		// Crypto, TLS and SSH keys.
		{"HostKey", "/etc/ssh/ssh_host_rsa_key", ""},
		{"ssl_key_file", "/etc/ssl/private/x.key", ""},
		{"tls_key_file", "/etc/app/tls.key", ""},
		{"private_key_file", "/etc/app/id_rsa", ""},
		{"public_key_path", "/etc/app/id_rsa.pub", ""},
		{"jwt.key_file", "/etc/app/jwt", ""},
		{"api_key_file", "/etc/app/api", ""},
		{"signing_key_path", "/etc/app/s", ""},
		{"secret_key_file", "/etc/app/s", ""},
		{"gpg_key_file", "/etc/app/s", ""},
		{"encryption_key_file", "/etc/app/s", ""},
		{"cert_key_file", "/etc/app/s", ""},
		{"key_file", "/etc/app/server.key", ""},
		{"key_file", "/etc/app/server.pem", ""},
		{"key_file", "/etc/ssl/app/x", ""},
		{"key_file", "/home/app/.ssh/id_ed25519", ""},
		{"keyfile", "/etc/pki/tls/private/x", ""},
		{"shm_key_file", "/etc/app/certs/x", ""},
		{"key_file", "", "empty"},
		// A bare word has no path: "key" alone, "file" alone.
		{"key", "/data/x", ""},
		{"path", "/data/x", ""},
		{"key_buffer_size", "16M", ""},
	}
	for _, tt := range tests {
		set := tt.value != ""
		c := &Config{Path: "t.conf", Format: FormatLines, Settings: []Setting{{Name: tt.name, Value: tt.value, Line: 1, Set: set}}}
		ks, err := KeyFileSettings(c, nil)
		if err != nil {
			t.Errorf("%s = %q: %v", tt.name, tt.value, err)
			continue
		}
		got := ""
		if len(ks) == 1 {
			got = "key"
			if ks[0].Empty {
				got = "empty"
			}
		}
		if got != tt.want {
			t.Errorf("%s = %q: got %q, want %q", tt.name, tt.value, got, tt.want)
		}
	}
}

// A bare key_file beside a certificate setting is a TLS key; one beside
// nothing of the kind may be an ftok key file.
func TestKeyFileBesideCertificate(t *testing.T) {
	data := `[server]
key_file = /var/lib/app/k
cert_file = /var/lib/app/c

[ipc]
key_file = /var/lib/app/ipc
`
	c, err := Parse("a.conf", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	got, err := KeyFileSettings(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameFound(t, got, []found{{"ipc.key_file", "/var/lib/app/ipc", 6, -1, "", 0, false}})
}

// An unset value and a quoted empty one are both empty key-file settings.
func TestEmptyValues(t *testing.T) {
	tests := []struct{ path, data string }{
		{"a.conf", "chnl_shm_path =\n"},
		{"a.conf", "chnl_shm_path : # not set yet\n"},
		{"a.conf", "chnl_shm_path = \"\"\n"},
		{"a.yaml", "chnl_shm_path:\n"},
		{"a.yaml", "chnl_shm_path: ~\n"},
		{"a.yaml", "chnl_shm_path: ''\n"},
		{"a.json", `{"chnl_shm_path": null}`},
		{"a.json", `{"chnl_shm_path": ""}`},
		{"a.toml", `chnl_shm_path = ""`},
	}
	for _, tt := range tests {
		c, err := Parse(tt.path, []byte(tt.data))
		if err != nil {
			t.Fatal(err)
		}
		got, err := KeyFileSettings(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(tt.path+" "+tt.data, func(t *testing.T) {
			sameFound(t, got, []found{{"chnl_shm_path", "", 1, -1, "", 0, true}})
		})
	}
}

// A line-format file is lenient, except where a key-file setting cannot be
// read: then KeyFileSettings fails at that line.
func TestKeyFileSettingErrors(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		data     string
		patterns []string
		want     string // the whole error; "" for none
	}{
		{"unterminated double quote", "app/B.conf", "workers = 4\nchnl_shm_path = \"/data/path_B\n",
			nil, `app/B.conf:2: chnl_shm_path: unterminated double quote: close the quote`},
		{"unterminated single quote", "B.env", "export CHNL_SHM_PATH='/data/path_B\n",
			nil, `B.env:1: CHNL_SHM_PATH: unterminated single quote: close the quote`},
		{"text after the quote", "B.env", "SHM_KEYFILE=\"/data/\"path_B\n",
			nil, `B.env:1: SHM_KEYFILE: text after the closing quote: quote the whole value`},
		{"malformed setting named by a pattern", "B.conf", "chnl = \"/data\n",
			[]string{"chnl"}, `B.conf:1: chnl: unterminated double quote: close the quote`},
		{"malformed other setting", "B.conf", "motd = \"it's\nchnl_shm_path = /data/path_B\n", nil, ""},
		{"bad sibling proj", "app/B.conf", "chnl_shm_path : /data/path_B\nchnl_shm_proj : 010\n",
			nil, `app/B.conf:2: chnl_shm_proj, the proj id for chnl_shm_path: proj id "010" has a leading zero (C would read it as octal): write a character (l), a quoted character ('1'), decimal (108) or hex (0x6c)`},
		{"sibling that is a word", "a.yaml", "shm:\n  path: /data/path_B\n  proj: project-x\n",
			nil, `a.yaml:3: shm.proj, the proj id for shm.path: proj id "project-x" is not a proj id: write a character (l), a quoted character ('1'), decimal (108) or hex (0x6c)`},
		{"empty sibling", "a.conf", "chnl_shm_path = /x\nchnl_shm_proj =\n",
			nil, `a.conf:2: chnl_shm_proj, the proj id for chnl_shm_path: the proj id is empty: set it, or remove the setting`},
		{"quoted digit", "a.json", "{\"shm_path\": \"/x\",\n \"shm_proj\": \"1\"}",
			nil, `a.json:2: shm_proj, the proj id for shm_path: proj id "1" is ambiguous: write 49 or 0x31 for the character '1', 1 for the number`},
		{"unquoted digit", "a.json", "{\"shm_path\": \"/x\", \"shm_proj\": 1}", nil, ""},
		{"malformed sibling", "a.conf", "shm_path = /x\nshm_proj = 'l\n",
			nil, `a.conf:2: shm_proj, the proj id for shm_path: unterminated single quote: close the quote`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.path, []byte(tt.data))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			_, err = KeyFileSettings(c, tt.patterns)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("KeyFileSettings: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("KeyFileSettings = %v, want an *Error", err)
			}
			if err.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
			checkOneLine(t, err)
		})
	}
}
