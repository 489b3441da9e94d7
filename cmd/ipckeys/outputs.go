package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/ipckeys/ipckeys/report"
	"golang.org/x/sys/unix"
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
}

// parseOutputs reads the -o values. With none, people at a terminal get
// the table and everything else gets text. At most one goes to stdout.
func parseOutputs(values []string, stdout io.Writer) ([]output, error) {
	if len(values) == 0 {
		if isTerminal(stdout) {
			return []output{{format: "table"}}, nil
		}
		return []output{{format: "text"}}, nil
	}
	var outs []output
	toStdout := ""
	paths := map[string]bool{}
	for _, v := range values {
		format, path, _ := strings.Cut(v, "=")
		if renderers[format] == nil {
			return nil, usagef("-o %q: unknown format: use %s, optionally =PATH", v, formatList)
		}
		if path == "-" {
			path = ""
		}
		if path == "" {
			if toStdout != "" {
				return nil, usagef("-o %s and -o %s both write to stdout: give one of them a file (-o %s=PATH)", toStdout, format, format)
			}
			toStdout = format
		} else {
			clean := filepath.Clean(path)
			if paths[clean] {
				return nil, usagef("-o %s: %s is already the file of another -o", v, path)
			}
			paths[clean] = true
		}
		outs = append(outs, output{format, path})
	}
	return outs, nil
}

// checkWritable makes sure every output file can be written before the
// scan runs, so a bad path fails fast and leaves nothing behind.
func checkWritable(outs []output) error {
	for _, o := range outs {
		if o.path == "" {
			continue
		}
		if st, err := os.Stat(o.path); err == nil && st.IsDir() {
			return fmt.Errorf("-o %s=%s: is a directory: name a file", o.format, o.path)
		}
		f, err := os.CreateTemp(filepath.Dir(o.path), ".ipckeys-check-*")
		if err != nil {
			return fmt.Errorf("-o %s=%s: cannot write there: %v", o.format, o.path, unwrapPathError(err))
		}
		f.Close()
		os.Remove(f.Name())
	}
	return nil
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// writeOutputs renders the result in every requested format. Files are
// written whole or not at all: to a temporary file in the same directory,
// then renamed over the target (what the node_exporter textfile collector
// needs), mode 0644.
func writeOutputs(outs []output, r *report.Result, stdout io.Writer, st report.Style) error {
	for _, o := range outs {
		render := renderers[o.format]
		if o.path == "" {
			if err := render(stdout, r, st); err != nil {
				return err
			}
			continue
		}
		if err := writeAtomically(o.path, func(w io.Writer) error {
			return render(w, r, report.Style{Quiet: st.Quiet})
		}); err != nil {
			return fmt.Errorf("-o %s=%s: %v", o.format, o.path, err)
		}
	}
	return nil
}

func writeAtomically(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return unwrapPathError(err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	done = true
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
