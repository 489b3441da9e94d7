package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/internal/outfile"
	"github.com/ipckeys/ipckeys/report"
)

// renderers are the scan output formats.
var renderers = map[string]func(io.Writer, *report.Result, report.Style) error{
	"table":      report.Table,
	"text":       report.Text,
	"json":       func(w io.Writer, r *report.Result, _ report.Style) error { return report.WriteScanJSON(w, r) },
	"sarif":      func(w io.Writer, r *report.Result, _ report.Style) error { return report.SARIF(w, r) },
	"github":     func(w io.Writer, r *report.Result, _ report.Style) error { return report.GitHub(w, r) },
	"junit":      func(w io.Writer, r *report.Result, _ report.Style) error { return report.JUnit(w, r) },
	"prometheus": func(w io.Writer, r *report.Result, _ report.Style) error { return report.Prometheus(w, r) },
}

const formatList = "table, text, json, sarif, github, junit or prometheus"

// output is one -o FORMAT[=PATH]; an empty path is stdout.
type output struct {
	format string
	path   string
	target *outfile.Target // the prepared file, for a path
}

// parseOutputs reads scan's -o values.
func parseOutputs(values []string, stdout io.Writer) ([]output, error) {
	return parseFormats(values, stdout, scanFormat, formatList)
}

// scanFormat reports whether scan writes format.
func scanFormat(format string) bool { return renderers[format] != nil }

// gateFlags are the flags of the commands that gate (scan, fleet): where
// the reports go, the severity that fails the run, colour and quiet.
type gateFlags struct {
	outputs []string
	failOn  string
	color   string
	quiet   bool
}

func addGateFlags(fs *pflag.FlagSet) *gateFlags {
	g := &gateFlags{}
	fs.StringArrayVarP(&g.outputs, "output", "o", nil, "")
	fs.StringVar(&g.failOn, "fail-on", "error", "")
	fs.BoolVarP(&g.quiet, "quiet", "q", false, "")
	fs.StringVar(&g.color, "color", "auto", "")
	return g
}

// parse checks the flags: the outputs in the formats known accepts (list
// names them), the threshold, and whether stdout gets colour.
func (g *gateFlags) parse(stdout io.Writer, known func(string) bool, list string) (outs []output, failOn audit.Severity, color bool, err error) {
	if outs, err = parseFormats(g.outputs, stdout, known, list); err != nil {
		return nil, 0, false, err
	}
	if color, err = useColor(g.color, stdout); err != nil {
		return nil, 0, false, err
	}
	if failOn, err = audit.ParseThreshold(g.failOn); err != nil {
		return nil, 0, false, usageError{err.Error()}
	}
	return outs, failOn, color, nil
}

// parseFormats reads the -o values of a command whose formats known
// accepts (list names them). With none, people at a terminal get the table
// and everything else gets text. At most one goes to stdout.
func parseFormats(values []string, stdout io.Writer, known func(string) bool, list string) ([]output, error) {
	if len(values) == 0 {
		if isTerminal(stdout) {
			return []output{{format: "table"}}, nil
		}
		return []output{{format: "text"}}, nil
	}
	var outs []output
	toStdout := ""
	for _, v := range values {
		format, path, _ := strings.Cut(v, "=")
		if !known(format) {
			return nil, usagef("-o %q: unknown format: use %s, optionally =PATH", v, list)
		}
		if path == "-" {
			path = ""
		}
		if path == "" {
			if toStdout != "" {
				return nil, usagef("-o %s and -o %s both write to stdout: give one of them a file (-o %s=PATH)", toStdout, format, format)
			}
			toStdout = format
		}
		outs = append(outs, output{format: format, path: path})
	}
	return outs, nil
}

// prepareOutputs resolves and checks every output file before the scan
// runs, so a bad path fails fast and leaves nothing behind, and refuses two
// outputs that are one file, however they are spelled. Devices and FIFOs
// are opened here; closeOutputs releases what was not written.
func prepareOutputs(outs []output, stdout io.Writer) error {
	stdoutFile, _ := stdout.(*os.File)
	toStdout := ""
	for _, o := range outs {
		if o.path == "" {
			toStdout = o.format
		}
	}
	for i := range outs {
		o := &outs[i]
		if o.path == "" {
			continue
		}
		t, err := outfile.Prepare(o.path)
		if err != nil {
			closeOutputs(outs)
			return fmt.Errorf("-o %s=%s: %v", o.format, o.path, err)
		}
		o.target = t
		for _, prev := range outs[:i] {
			if prev.target != nil && prev.target.Same(t) {
				closeOutputs(outs)
				return usagef("-o %s=%s and -o %s=%s are the same file: give each format its own file", prev.format, prev.path, o.format, o.path)
			}
		}
		if toStdout != "" && t.SameAsFile(stdoutFile) {
			closeOutputs(outs)
			return usagef("-o %s=%s is standard output, where -o %s already goes: give one of them another file", o.format, o.path, toStdout)
		}
	}
	return nil
}

// closeOutputs releases the prepared outputs that were not written.
func closeOutputs(outs []output) {
	for _, o := range outs {
		if o.target != nil {
			o.target.Close()
		}
	}
}

// writeOutputs renders the result in every requested format, to stdout or
// to the prepared files (see package outfile for how each kind of file is
// written). A write error (a full disk or device, a closed pipe) is an
// error: the report did not arrive.
func writeOutputs(outs []output, r *report.Result, stdout io.Writer, st report.Style) error {
	return writeEach(outs, stdout, func(format string, w io.Writer, toStdout bool) error {
		style := st
		if !toStdout {
			style = report.Style{Quiet: st.Quiet}
		}
		return renderers[format](w, r, style)
	})
}

// writeEach writes every output with render, to stdout or to its
// prepared file; toStdout tells render which (colour is for terminals).
func writeEach(outs []output, stdout io.Writer, render func(format string, w io.Writer, toStdout bool) error) error {
	defer closeOutputs(outs)
	for _, o := range outs {
		if o.path == "" {
			w := outfile.Checked(stdout)
			err := render(o.format, w, true)
			if w.Err() != nil {
				err = w.Err()
			}
			if err != nil {
				return fmt.Errorf("-o %s: writing to standard output: %v", o.format, err)
			}
			continue
		}
		if err := o.target.Write(func(w io.Writer) error {
			return render(o.format, w, false)
		}); err != nil {
			return fmt.Errorf("-o %s=%s: %v", o.format, o.path, err)
		}
	}
	return nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// useColor decides --color: auto colours a terminal unless NO_COLOR is set
// (non-empty); always and never are explicit and win.
func useColor(mode string, stdout io.Writer) (bool, error) {
	switch mode {
	case "auto":
		return os.Getenv("NO_COLOR") == "" && isTerminal(stdout), nil
	case "always":
		return true, nil
	case "never":
		return false, nil
	}
	return false, usagef("--color %q: use auto, always or never", mode)
}

// buildVersion reads the module version and VCS stamp the Go toolchain
// embedded in the binary.
func buildVersion() report.Version {
	v := report.Version{Module: "(devel)"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.GoVersion = bi.GoVersion
	if bi.Main.Version != "" {
		v.Module = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				v.Revision += "+dirty"
			}
		}
	}
	if v.Revision == "+dirty" {
		v.Revision = ""
	}
	return v
}
