package audit_test

import (
	"testing"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/fdscan"
)

// TestProgramOf: an interpreter's program is what it runs, so two python3
// daemons are two programs and one daemon's workers are one.
func TestProgramOf(t *testing.T) {
	for _, c := range []struct {
		exe  string
		argv []string
		want string
	}{
		{"/usr/bin/python3.11", []string{"python3", "-u", "/srv/a.py", "--port", "1"}, "/usr/bin/python3.11 /srv/a.py"},
		{"/usr/bin/python3.11", []string{"python3", "-X", "dev", "-m", "http.server"}, "/usr/bin/python3.11 -m http.server"},
		{"/usr/bin/python3.11", []string{"python3", "-c", "import x"}, "/usr/bin/python3.11 -c"},
		{"/usr/lib/jvm/bin/java", []string{"java", "-Xmx1g", "-cp", "a.jar", "com.example.Main"}, "/usr/lib/jvm/bin/java com.example.Main"},
		{"/usr/lib/jvm/bin/java", []string{"java", "-jar", "app.jar"}, "/usr/lib/jvm/bin/java -jar app.jar"},
		{"/usr/bin/node (deleted)", []string{"node", "--require", "x", "server.js"}, "/usr/bin/node server.js"},
		{"/usr/bin/dash", []string{"sh", "-c", "exec server"}, "/usr/bin/dash -c"},
		{"/usr/bin/bash", []string{"bash", "/usr/local/bin/run.sh"}, "/usr/bin/bash /usr/local/bin/run.sh"},
		{"/usr/sbin/nginx", []string{"nginx: worker process"}, "/usr/sbin/nginx"},
		{"", nil, "kworker"},
	} {
		p := &fdscan.Process{Exe: c.exe, Cmdline: c.argv, Comm: "kworker"}
		if got := audit.ProgramOf(p); got != c.want {
			t.Errorf("ProgramOf(%s %q) = %q, want %q", c.exe, c.argv, got, c.want)
		}
	}
}
