package endpoint

import "testing"

func TestParseAndMatch(t *testing.T) {
	type sock struct {
		proto, local string
		inode        uint64
	}
	tcp4 := sock{"tcp", "127.0.0.1:5555", 11}
	tcp4any := sock{"tcp", "0.0.0.0:5555", 12}
	tcp6 := sock{"tcp6", "[::1]:5555", 13}
	udp := sock{"udp", "127.0.0.53:53", 14}
	unixs := sock{"unix", "/run/app.sock", 15}
	abstract := sock{"unix", "@app", 16}
	other := sock{"tcp", "127.0.0.1:80", 17}
	all := []sock{tcp4, tcp4any, tcp6, udp, unixs, abstract, other}
	tests := []struct {
		in   string
		want []sock
	}{
		{"tcp:5555", []sock{tcp4, tcp4any, tcp6}},
		{":5555", []sock{tcp4, tcp4any, tcp6}},
		{"tcp6:5555", []sock{tcp6}},
		{"tcp:127.0.0.1:5555", []sock{tcp4, tcp4any}},
		{"tcp:[::1]:5555", []sock{tcp6}},
		{"tcp:*:5555", []sock{tcp4, tcp4any, tcp6}},
		{"udp:53", []sock{udp}},
		{":53", []sock{udp}},
		{"/run/app.sock", []sock{unixs}},
		{"unix:/run/app.sock", []sock{unixs}},
		{"unix:@app", []sock{abstract}},
		{"socket:[17]", []sock{other}},
	}
	for _, tc := range tests {
		e, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		want := map[uint64]bool{}
		for _, s := range tc.want {
			want[s.inode] = true
		}
		for _, s := range all {
			if got := e.Matches(s.proto, s.local, s.inode); got != want[s.inode] {
				t.Errorf("%q matches %s %s: %v, want %v", tc.in, s.proto, s.local, got, want[s.inode])
			}
		}
	}
	for _, bad := range []string{"", "tcp", "tcp:", "tcp:0", "tcp:65536", "sctp:5", "tcp:nothost:5", "unix:", "unix:rel", "socket:[x]", "socket:[0]", "5555", "0x6c014001"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"tcp:5555", ":5555", "tcp:[::1]:80", "unix:@x", "/run/a", "socket:[1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			return
		}
		if e.Inode == 0 && e.Path == "" && (e.Port < 1 || e.Port > 65535) {
			t.Fatalf("Parse(%q) = %+v: no inode, path or port", s, e)
		}
		e.Matches("tcp", "127.0.0.1:1", 1)
	})
}
