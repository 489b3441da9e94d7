package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/internal/display"
	"github.com/ipckeys/ipckeys/internal/texttable"
)

// messageWidth is where the findings table wraps its message column.
const messageWidth = 72

// newTable returns a table, drawn the same way by every human format.
func newTable(w io.Writer, header ...string) *texttable.Table {
	return texttable.New(w, header...)
}

// cells returns the columns the entry tables share.
func cells(e *audit.Entry) (proj, key, dev, ino, fp string) {
	proj, key, dev, ino, fp = "-", "-", "-", "-", "-"
	if e.HasProj {
		proj = projCell(e.Proj)
	}
	if k, ok := e.Key(); ok {
		key = ftok.Hex(k)
	}
	if e.OK() {
		dev = fmt.Sprintf("%d:%d", e.File.Major(), e.File.Minor())
		ino = strconv.FormatUint(e.File.Ino, 10)
		fp = e.File.Fingerprint().String()
	}
	return
}

// projCell writes a proj id with, when it is outside 0..255, the low byte
// ftok keeps of it: "108 'l'", "256 (low byte 0)", "364 (low byte 108 'l')".
func projCell(proj int) string {
	if proj >= 0 && proj <= 0xff {
		return ftok.ProjString(proj)
	}
	return strconv.Itoa(proj) + " (low byte " + ftok.ProjString(proj&0xff) + ")"
}

// KeyTable writes the table of `ipckeys key`.
func KeyTable(w io.Writer, entries []audit.Entry) error {
	t := newTable(w, "PATH", "PROJ", "KEY", "DECIMAL", "DEV", "INODE", "FINGERPRINT")
	for i := range entries {
		e := &entries[i]
		proj, key, dev, ino, fp := cells(e)
		dec := "-"
		if k, ok := e.Key(); ok {
			dec = strconv.Itoa(int(k))
		}
		if err := t.Append([]string{display.Quote(e.Path), proj, key, dec, dev, ino, fp}); err != nil {
			return err
		}
	}
	return t.Render()
}

// Style is how the human formats look.
type Style struct {
	Color   bool // ANSI colours on severities
	Quiet   bool // nothing but error findings
	Verbose bool // the details (inputs, entries, live notes) on a pass too
}

// details reports whether the human formats print what was checked
// (the entries table, what each input was taken as, the live status and
// its notes) besides the findings and the summary: with Verbose, and
// when there are findings to read them with. A pass without findings is
// its summary line, unless the live checks did not run for a reason the
// user did not give (which is said).
func (st Style) details(shown []audit.Finding) bool {
	return st.Verbose || len(shown) > 0
}

// liveUnasked is the live status a pass still prints: live checks that
// were meant to run and could not (the tables could not be read).
func liveUnasked(live LiveSummary) bool {
	return !live.Checked && live.Reason != "" && live.Reason != "--no-live" && live.Reason != "--static"
}

// paint colours a severity word when the style asks for it.
func (st Style) paint(sev audit.Severity) string {
	if !st.Color {
		return sev.String()
	}
	code := map[audit.Severity]string{audit.Error: "1;31", audit.Warning: "33", audit.Info: "36"}[sev]
	return "\x1b[" + code + "m" + sev.String() + "\x1b[0m"
}

// shown returns the findings the human formats print: not the suppressed
// ones, and with Quiet only errors.
func (st Style) shown(findings []audit.Finding) []audit.Finding {
	var out []audit.Finding
	for _, f := range findings {
		if f.Suppressed == nil && (!st.Quiet || f.Severity == audit.Error) {
			out = append(out, f)
		}
	}
	return out
}

// Table writes the entries and findings of a scan for people, then the
// live status and a one-line summary; a pass without findings is its
// summary line unless Verbose. Quiet leaves only the error findings.
func Table(w io.Writer, r *Result, st Style) error {
	findings := st.shown(r.Findings)
	details := st.details(findings)
	if !st.Quiet && details {
		t := newTable(w, "CHANNEL", "PATH", "PROJ", "KEY", "DEV", "INODE", "FINGERPRINT", "FS")
		for i := range r.Entries {
			e := &r.Entries[i]
			proj, key, dev, ino, fp := cells(e)
			name := e.Name()
			if name == "" {
				name = "-"
			}
			fs := display.Quote(e.File.FSType)
			if !e.OK() {
				fs = "unusable"
			}
			if err := t.Append([]string{display.Quote(name), display.Quote(e.Path), proj, key, dev, ino, fp, fs}); err != nil {
				return err
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	if len(findings) > 0 {
		if !st.Quiet && details {
			fmt.Fprintln(w)
		}
		ft := newTable(w, "SEVERITY", "CODE", "KEY", "MESSAGE")
		ft.SetWidth(3, messageWidth)
		for _, f := range findings {
			key := "-"
			if f.Key != nil {
				key = ftok.Hex(*f.Key)
			}
			if err := ft.Append([]string{st.paint(f.Severity), display.Quote(f.Code), key, display.Quote(f.Message)}); err != nil {
				return err
			}
		}
		if err := ft.Render(); err != nil {
			return err
		}
	}
	if st.Quiet {
		return nil
	}
	writeDetails(w, r, details)
	_, err := fmt.Fprintln(w, SummaryLine(r.Summary()))
	return err
}

// writeDetails writes what each input was taken as and the live status
// with its notes, or on a pass without details only a live check that
// could not run.
func writeDetails(w io.Writer, r *Result, details bool) {
	switch {
	case details:
		writeInputs(w, r.Inputs)
		writeLive(w, r.Live)
	case liveUnasked(r.Live):
		writeLive(w, r.Live)
	}
}

// Text writes one line per finding, LOCATION: SEVERITY: CODE [KEY]: MESSAGE,
// then the summary: stable and grep-friendly. A location that begins a
// line is quoted when it begins with a colon, so that no line is a CI
// runner's command.
func Text(w io.Writer, r *Result, st Style) error {
	bw := bufio.NewWriter(w)
	shown := st.shown(r.Findings)
	for _, f := range shown {
		key := ""
		if f.Key != nil {
			key = " " + ftok.Hex(*f.Key)
		}
		fmt.Fprintf(bw, "%s: %s: %s%s: %s\n", display.LineStart(r.Locate(&f).Text), st.paint(f.Severity), display.Quote(f.Code), key, display.Quote(f.Message))
	}
	if !st.Quiet {
		writeDetails(bw, r, st.details(shown))
		fmt.Fprintln(bw, SummaryLine(r.Summary()))
	}
	return bw.Flush()
}

// maxKeyFileInputs is how many files read and taken as key files are
// listed one by one; past it they are counted (JSON lists them all).
const maxKeyFileInputs = 100

// writeInputs says what each positional file read was taken as and why:
// every config, and the key files one by one when they are few.
func writeInputs(w io.Writer, inputs []Input) {
	keyFiles := 0
	for _, in := range inputs {
		if in.TakenAs != "config" {
			keyFiles++
		}
	}
	for _, in := range inputs {
		if in.TakenAs == "config" || keyFiles <= maxKeyFileInputs {
			fmt.Fprintf(w, "input: %s\n", in.Summary())
		}
	}
	if keyFiles > maxKeyFileInputs {
		fmt.Fprintf(w, "input: %d files read and taken as key files: no setting in them names a key file (-o json lists each, with why)\n", keyFiles)
	}
}

func writeLive(w io.Writer, live LiveSummary) {
	switch {
	case live.Checked:
		fmt.Fprintf(w, "live: checked against %s", display.Quote(live.Source))
		switch {
		case live.Namespaces > 1:
			fmt.Fprintf(w, " in %d IPC namespaces", live.Namespaces)
		case live.Namespace != 0:
			fmt.Fprintf(w, " in IPC namespace ipc:[%d]", live.Namespace)
		}
		fmt.Fprintln(w)
		if live.Attachments != nil && live.Attachments.Note != "" {
			fmt.Fprintln(w, "note: "+display.Quote(live.Attachments.Note))
		}
		for _, n := range live.Notes {
			fmt.Fprintln(w, "note: "+display.Quote(n))
		}
		if sk := live.Sockets; sk != nil {
			fmt.Fprintf(w, "sockets: checked %d sockets of %d processes\n", sk.Sockets, sk.Processes)
			for _, n := range sk.Notes {
				fmt.Fprintln(w, "note: "+display.Quote(n))
			}
		}
	case live.Reason != "":
		fmt.Fprintln(w, "live: not checked: "+display.Quote(live.Reason))
	}
}

// SummaryLine is the last line of a human-readable scan.
func SummaryLine(s Summary) string {
	verdict := "pass"
	if s.Failed {
		verdict = "FAIL"
	}
	suppressed := ""
	if s.Suppressed > 0 {
		suppressed = fmt.Sprintf(", %d suppressed", s.Suppressed)
	}
	return fmt.Sprintf("%s: %d %s, %d %s, %d %s, %d info%s (--fail-on %s)",
		verdict, s.Entries, plural(s.Entries, "entry", "entries"),
		s.Errors, plural(s.Errors, "error", "errors"),
		s.Warnings, plural(s.Warnings, "warning", "warnings"), s.Info, suppressed, s.FailOn)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
