package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/internal/display"
)

// JUnit XML, as Jenkins and GitLab read it.
type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr,omitempty"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name      string      `xml:"name,attr"`
		Tests     int         `xml:"tests,attr"`
		Failures  int         `xml:"failures,attr"`
		Errors    int         `xml:"errors,attr"`
		Skipped   int         `xml:"skipped,attr"`
		Timestamp string      `xml:"timestamp,attr"`
		Cases     []junitCase `xml:"testcase"`
	}
	junitCase struct {
		Name      string         `xml:"name,attr"`
		ClassName string         `xml:"classname,attr"`
		Failures  []junitFailure `xml:"failure"`
		Errors    []junitFailure `xml:"error"` // the test could not run: a host not checked
		Skipped   *junitSkipped  `xml:"skipped"`
		SystemOut string         `xml:"system-out,omitempty"`
	}
	junitSkipped struct {
		Message string `xml:"message,attr"`
	}
	junitFailure struct {
		Type    string `xml:"type,attr"`
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	}
)

// JUnit writes one test case per manifest channel and per path (and one
// per live object or ignore file entry that has findings), with a failure for
// every error finding that concerns it; warnings and info go to the test
// case's output. Suppressed findings are left out.
func JUnit(w io.Writer, r *Result) error {
	var cases []*junitCase
	byName := map[string]*junitCase{}
	caseFor := func(class, name string) *junitCase {
		id := class + "\x00" + name
		if c := byName[id]; c != nil {
			return c
		}
		c := &junitCase{Name: display.Quote(name), ClassName: class}
		byName[id] = c
		cases = append(cases, c)
		return c
	}
	entryCase := func(e *audit.Entry) *junitCase {
		if e.Channel != nil {
			return caseFor("ipckeys.channel", e.Channel.Name)
		}
		return caseFor("ipckeys.path", e.Path)
	}
	for i := range r.Entries {
		entryCase(&r.Entries[i])
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Suppressed != nil {
			continue
		}
		var concerned []*junitCase
		switch {
		case len(f.Entries) > 0:
			seen := map[*junitCase]bool{}
			for _, ei := range f.Entries {
				if c := entryCase(&r.Entries[ei]); !seen[c] {
					seen[c] = true
					concerned = append(concerned, c)
				}
			}
		case f.Socket != nil && f.Where != nil:
			concerned = []*junitCase{caseFor("ipckeys.listener", r.Locate(f).Text)}
		case f.Socket != nil:
			concerned = []*junitCase{caseFor("ipckeys.socket", f.Socket.Text())}
		case f.Where != nil:
			concerned = []*junitCase{caseFor("ipckeys.ignore", r.Locate(f).Text)}
		default:
			concerned = []*junitCase{caseFor("ipckeys.live", r.Locate(f).Text)}
		}
		for _, c := range concerned {
			// XML cannot carry most control characters at all: the
			// display rule goes first, XML's escaping after it.
			msg, code := display.Quote(f.Message), display.Quote(f.Code)
			if f.Severity == audit.Error {
				text := msg
				if f.Key != nil {
					text = "key " + ftok.Hex(*f.Key) + ": " + text
				}
				c.Failures = append(c.Failures, junitFailure{Type: code, Message: msg, Text: text})
			} else {
				c.SystemOut += fmt.Sprintf("%s: %s: %s\n", f.Severity, code, msg)
			}
		}
	}
	suite := junitSuite{Name: "ipckeys scan", Timestamp: r.Time.UTC().Format("2006-01-02T15:04:05")}
	for _, c := range cases {
		c.SystemOut = strings.TrimSuffix(c.SystemOut, "\n")
		suite.Cases = append(suite.Cases, *c)
		suite.Tests++
		if len(c.Failures) > 0 {
			suite.Failures++
		}
	}
	doc := junitSuites{Name: "ipckeys", Tests: suite.Tests, Failures: suite.Failures, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
