// Package packaging holds the release build: build.sh, nfpm.yaml, the
// systemd units and the maintainer scripts. Its test builds the release
// twice, installs the Debian package and removes it again.
package packaging

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDebianPackage builds the release files twice from clones of the
// commit checked out (the second at another path, with an empty build
// cache) and requires the same bytes; requires lintian to find no error
// or warning (but those overridden, with reasons, in
// packaging/lintian-overrides); then installs the .deb with dpkg -i and
// uses what it installed from a clean PATH: the binary, the man page, the
// completions in the shells, the units in systemd-analyze; then removes it
// with dpkg -r and requires every file it installed gone and dpkg to keep
// nothing of it (not even state rc); then again with the timer enabled,
// and with dpkg -P.
//
// It changes the machine (dpkg -i as root), so it runs only when asked:
// IPCKEYS_PACKAGE_TESTS=1, which CI sets.
func TestDebianPackage(t *testing.T) {
	if os.Getenv("IPCKEYS_PACKAGE_TESTS") != "1" {
		t.Skip("installs the package with dpkg as root: set IPCKEYS_PACKAGE_TESTS=1 on a machine you can throw away (CI does)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("IPCKEYS_PACKAGE_TESTS=1 needs root (dpkg -i)")
	}
	for _, tool := range []string{"git", "dpkg", "dpkg-deb", "man", "bash", "systemd-analyze", "systemctl", "sha256sum", "lintian"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (scripts/install-test-deps installs what the package test needs)", tool)
		}
	}
	if _, err := os.Stat("/usr/share/bash-completion/bash_completion"); err != nil {
		t.Fatal("bash-completion is not installed")
	}
	if _, err := os.Stat("/usr/bin/ipckeys"); err == nil {
		t.Fatal("/usr/bin/ipckeys exists already: the test would not know what the package installed")
	}
	if err := exec.Command("dpkg", "-s", "ipckeys").Run(); err == nil {
		t.Fatal("the ipckeys package is installed already: remove it first (dpkg -P ipckeys)")
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()

	// Build twice and compare.
	a, b := filepath.Join(tmp, "a"), filepath.Join(tmp, "elsewhere", "b")
	sums := map[string]string{}
	for _, dir := range []string{a, b} {
		run(t, repo, nil, "git", "clone", "--quiet", repo, dir)
		var env []string
		if dir == b {
			env = []string{"GOCACHE=" + filepath.Join(tmp, "gocache")}
		}
		run(t, dir, env, "bash", "packaging/build.sh")
		s, err := os.ReadFile(filepath.Join(dir, "dist", "SHA256SUMS"))
		if err != nil {
			t.Fatal(err)
		}
		sums[dir] = string(s)
	}
	if sums[a] != sums[b] {
		t.Fatalf("two builds of one commit differ:\n%s\n%s", sums[a], sums[b])
	}
	dist := filepath.Join(a, "dist")
	run(t, dist, nil, "sha256sum", "--check", "--strict", "SHA256SUMS")
	files := map[string]string{} // what each file is: binary-amd64, deb-arm64…
	for _, line := range strings.Split(strings.TrimSpace(sums[a]), "\n") {
		name := line[strings.LastIndex(line, " ")+1:]
		for _, arch := range []string{"amd64", "arm64"} {
			switch {
			case strings.HasPrefix(name, "ipckeys-") && strings.HasSuffix(name, "-linux-"+arch):
				files["binary-"+arch] = name
			case strings.HasPrefix(name, "ipckeys_") && strings.HasSuffix(name, "_"+arch+".deb"):
				files["deb-"+arch] = name
			}
		}
	}
	if len(files) != 4 {
		t.Fatalf("SHA256SUMS lists %v, want a binary and a .deb for amd64 and arm64:\n%s", files, sums[a])
	}
	for arch, machine := range map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64} {
		checkStatic(t, filepath.Join(dist, files["binary-"+arch]), machine)
		checkLintian(t, filepath.Join(dist, files["deb-"+arch]))
		checkDocs(t, filepath.Join(dist, files["deb-"+arch]), strings.TrimSpace(output(t, a, nil, "git", "rev-parse", "HEAD")))
	}

	// Install the package of this machine's architecture.
	arch := strings.TrimSpace(output(t, "", nil, "dpkg", "--print-architecture"))
	deb := filepath.Join(dist, files["deb-"+arch])
	if files["deb-"+arch] == "" {
		t.Fatalf("no package for this machine's architecture %s", arch)
	}
	listed := debContents(t, deb)
	existed := map[string]bool{}
	for _, p := range listed {
		if _, err := os.Lstat(p); err == nil {
			existed[p] = true
		}
	}
	run(t, "", nil, "dpkg", "-i", deb)
	installed := true
	t.Cleanup(func() {
		if installed {
			_ = exec.Command("dpkg", "-P", "ipckeys").Run()
		}
	})

	// What a user gets, from a PATH without Go or a GOPATH.
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + tmp, "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat", "TERM=dumb"}
	if got := strings.TrimSpace(shell(t, env, "command -v ipckeys")); got != "/usr/bin/ipckeys" {
		t.Errorf("command -v ipckeys = %q, want /usr/bin/ipckeys", got)
	}
	rev := strings.TrimSpace(output(t, a, nil, "git", "rev-parse", "HEAD"))
	if got := shell(t, env, "ipckeys version"); !strings.HasPrefix(got, "ipckeys v") || !strings.Contains(got, rev) {
		t.Errorf("ipckeys version = %q, want the module version and revision %s", got, rev)
	}

	// man finds the page by name and renders it without a warning.
	manOut, manErr := shell2(t, env, "man --warnings ipckeys")
	if manErr != "" {
		t.Errorf("man --warnings ipckeys warns:\n%s", manErr)
	}
	for _, want := range []string{"ipckeys scan", "EXIT STATUS", "key-collision (error)"} {
		if !strings.Contains(manOut, want) {
			t.Errorf("man ipckeys lacks %q", want)
		}
	}

	// bash-completion loads the installed script on first use.
	bashOut := shell(t, env, `bash --norc -c '
source /usr/share/bash-completion/bash_completion
__load_completion ipckeys 2>/dev/null || _completion_loader ipckeys
spec=$(complete -p ipckeys) && echo "$spec"
fn=${spec#*-F }; fn=${fn%% *}
try() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=(); "$fn"; printf "%s\n" "${COMPREPLY[@]}" | LC_ALL=C sort | tr "\n" " "; echo; }
try ipckeys sc
try ipckeys scan -o ""
'`)
	wantBash := "complete -F _ipckeys ipckeys\nscan \ngithub json junit prometheus sarif table text \n"
	if bashOut != wantBash {
		t.Errorf("bash completion:\n%s\nwant:\n%s", bashOut, wantBash)
	}
	// zsh's compinit and fish find the scripts where Debian's shells look.
	if _, err := exec.LookPath("zsh"); err == nil {
		if got := shell(t, env, `zsh -f -c 'autoload -U compinit && compinit -u -D && print -r -- $_comps[ipckeys]'`); strings.TrimSpace(got) != "_ipckeys" {
			t.Errorf("zsh's compinit does not find _ipckeys: %q", got)
		}
	}
	if _, err := exec.LookPath("fish"); err == nil {
		if got := shell(t, env, `fish -c 'complete -C "ipckeys sc"'`); !strings.HasPrefix(got, "scan\t") {
			t.Errorf("fish does not complete ipckeys sc: %q", got)
		}
	}

	// systemd accepts the units, which are installed disabled.
	units := []string{"/usr/lib/systemd/system/ipckeys.service", "/usr/lib/systemd/system/ipckeys.timer"}
	verOut, verErr, err := shell3(env, "systemd-analyze verify "+strings.Join(units, " "))
	if err != nil || strings.Contains(verOut+verErr, "ipckeys") {
		t.Errorf("systemd-analyze verify: %v\n%s%s", err, verOut, verErr)
	}
	if got := strings.TrimSpace(shell(t, env, "systemctl is-enabled ipckeys.timer || true")); got != "disabled" {
		t.Errorf("ipckeys.timer is %q after install, want disabled", got)
	}

	// dpkg -r removes everything it installed.
	list := strings.Fields(output(t, "", nil, "dpkg", "-L", "ipckeys"))
	for _, p := range listed {
		if !slices.Contains(list, p) {
			t.Errorf("dpkg -L does not list %s from the package", p)
		}
	}
	before := systemdState(t)
	run(t, "", nil, "dpkg", "-r", "ipckeys")
	installed = false
	checkGone(t, "dpkg -r", list, existed, before)

	// An administrator enabled the timer and the service wrote its metrics:
	// removal takes away the timer's link and the stale metrics, and purge
	// leaves nothing either.
	for _, remove := range []string{"-r", "-P"} {
		run(t, "", nil, "dpkg", "-i", deb)
		installed = true
		shell(t, env, "systemctl enable ipckeys.timer")
		if _, err := os.Lstat("/etc/systemd/system/timers.target.wants/ipckeys.timer"); err != nil {
			t.Fatalf("systemctl enable ipckeys.timer made no link: %v", err)
		}
		prom := "/var/lib/node_exporter/textfile/ipckeys.prom"
		promExisted := false
		if _, err := os.Lstat(prom); err == nil {
			promExisted = true
		} else {
			if err := os.MkdirAll(filepath.Dir(prom), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(prom, []byte("ipckeys_gate_failed 0\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		run(t, "", nil, "dpkg", remove, "ipckeys")
		installed = false
		checkGone(t, "dpkg "+remove+" with the timer enabled", list, existed, before)
		if _, err := os.Lstat(prom); err == nil && !promExisted {
			t.Errorf("dpkg %s left the service's metrics %s", remove, prom)
		}
	}
}

// checkGone requires that dpkg keeps nothing of the package (a package
// without configuration files has no state rc), that no file it installed
// is left, and that nothing of it is left in systemd's or
// deb-systemd-helper's directories that was not there before.
func checkGone(t *testing.T, what string, list []string, existed map[string]bool, before map[string]bool) {
	t.Helper()
	for _, p := range list {
		if _, err := os.Lstat(p); err == nil && !existed[p] {
			t.Errorf("%s is left after %s", p, what)
		}
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Status}", "ipckeys").Output(); err == nil && string(out) != "not-installed" {
		t.Errorf("after %s dpkg has the package in state %q, want none", what, out)
	}
	for p := range systemdState(t) {
		if !before[p] {
			t.Errorf("%s is left after %s", p, what)
		}
	}
}

// systemdState lists what mentions ipckeys in systemd's configuration and
// in deb-systemd-helper's records.
func systemdState(t *testing.T) map[string]bool {
	t.Helper()
	found := map[string]bool{}
	for _, root := range []string{"/etc/systemd", "/var/lib/systemd/deb-systemd-helper-enabled", "/var/lib/systemd/deb-systemd-helper-masked"} {
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.Contains(d.Name(), "ipckeys") {
				found[p] = true
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	return found
}

// checkLintian runs lintian on a package: it must report no error and no
// warning but those packaging/lintian-overrides overrides, with reasons.
func checkLintian(t *testing.T, deb string) {
	t.Helper()
	cmd := exec.Command("lintian", "--fail-on", "error,warning", deb)
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8", "LC_ALL=C.UTF-8")
	out, err := cmd.CombinedOutput()
	var tags []string
	for _, line := range strings.Split(string(out), "\n") {
		if len(line) > 2 && line[1] == ':' {
			tags = append(tags, line)
		}
	}
	if err != nil || len(tags) > 0 {
		t.Errorf("lintian %s: %v\n%s", filepath.Base(deb), err, strings.Join(tags, "\n"))
	}
}

// checkDocs requires the files Debian's policy asks of every package: the
// copyright file, machine-readable and naming Apache-2.0 for ipckeys
// itself, and changelog.Debian.gz for the package's version and commit,
// compressed without a name or time (gzip -n), so the same on every build.
func checkDocs(t *testing.T, deb, rev string) {
	t.Helper()
	dir := t.TempDir()
	run(t, "", nil, "dpkg-deb", "-x", deb, dir)
	version := strings.TrimSpace(output(t, "", nil, "dpkg-deb", "-f", deb, "Version"))
	doc := filepath.Join(dir, "usr", "share", "doc", "ipckeys")
	copyright, err := os.ReadFile(filepath.Join(doc, "copyright"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: ipckeys\n"; !strings.HasPrefix(string(copyright), want) ||
		!strings.Contains(string(copyright), "\n\nFiles: *\nCopyright: ") || !strings.Contains(string(copyright), "\nLicense: Apache-2.0\n") {
		t.Errorf("%s: copyright is not DEP-5 with Files: * under Apache-2.0:\n%s", filepath.Base(deb), copyright)
	}
	gz, err := os.ReadFile(filepath.Join(doc, "changelog.Debian.gz"))
	if err != nil {
		t.Fatal(err)
	}
	// gzip -n: no name (flag 0x08) and a zero time (bytes 4-7).
	if len(gz) < 10 || gz[3]&0x08 != 0 || !bytes.Equal(gz[4:8], []byte{0, 0, 0, 0}) {
		t.Errorf("%s: changelog.Debian.gz carries a name or time (header % x)", filepath.Base(deb), gz[:min(len(gz), 10)])
	}
	changelog := output(t, "", nil, "sh", "-c", "gzip -dc < \"$0\"", filepath.Join(doc, "changelog.Debian.gz"))
	if first := "ipckeys (" + version + ") unstable; urgency=medium\n\n  * Built from commit " + rev + ".\n\n -- "; !strings.HasPrefix(changelog, first) {
		t.Errorf("%s: changelog.Debian.gz is\n%s\nwant it to start\n%s", filepath.Base(deb), changelog, first)
	}
}

// checkStatic requires a static executable for the machine: no program
// interpreter, no shared libraries.
func checkStatic(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("%s is for %v, want %v", path, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s is dynamically linked (%v)", path, p.Type)
		}
	}
}

// debContents lists the paths a package holds, as dpkg -L writes them.
func debContents(t *testing.T, deb string) []string {
	t.Helper()
	var paths []string
	out := output(t, "", nil, "dpkg-deb", "-c", deb)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		p := strings.TrimSuffix(strings.TrimPrefix(f[len(f)-1], "."), "/")
		if p != "" {
			paths = append(paths, p)
		}
	}
	return paths
}

func run(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	output(t, dir, env, name, args...)
}

func output(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// shell runs a script with exactly env (no variable of the test's own),
// and fails the test if it fails.
func shell(t *testing.T, env []string, script string) string {
	t.Helper()
	out, errs, err := shell3(env, script)
	if err != nil {
		t.Fatalf("%s: %v\n%s%s", script, err, out, errs)
	}
	return out
}

func shell2(t *testing.T, env []string, script string) (string, string) {
	t.Helper()
	out, errs, err := shell3(env, script)
	if err != nil {
		t.Fatalf("%s: %v\n%s%s", script, err, out, errs)
	}
	return out, errs
}

func shell3(env []string, script string) (string, string, error) {
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// The monitoring set-up in docs/outputs.md is these unit files, not a copy
// of them.
func TestDocsPointAtUnits(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "docs", "outputs.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ipckeys.service", "ipckeys.timer"} {
		if _, err := os.Stat(f); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(readme), "(../packaging/"+f+")") {
			t.Errorf("docs/outputs.md does not point at packaging/%s", f)
		}
	}
	for _, copied := range []string{"[Timer]", "[Install]", "OnUnitActiveSec", "SuccessExitStatus"} {
		if strings.Contains(string(readme), copied) {
			t.Errorf("docs/outputs.md has its own copy of the units (%s): point at packaging/ instead", copied)
		}
	}
	service, err := os.ReadFile("ipckeys.service")
	if err != nil {
		t.Fatal(err)
	}
	// What the page says the service runs is what it runs.
	if !strings.Contains(string(service), "ExecStart=/usr/bin/ipckeys scan -m /etc/ipckeys/app.manifest -o text \\\n  -o prometheus=/var/lib/node_exporter/textfile/ipckeys.prom\n") ||
		!strings.Contains(strings.Join(strings.Fields(string(readme)), " "), "`ipckeys scan -m /etc/ipckeys/app.manifest -o text -o prometheus=/var/lib/node_exporter/textfile/ipckeys.prom`") {
		t.Error("docs/outputs.md and packaging/ipckeys.service disagree on the command the service runs")
	}
}
