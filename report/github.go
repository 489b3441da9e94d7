package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/internal/display"
)

// GitHub writes the findings as GitHub Actions workflow commands, which the
// runner turns into annotations on the files they name:
//
//	::error file=app.manifest,line=3,title=ipckeys key-collision::message
//
// Suppressed findings are left out. Data is quoted by the display rule,
// then escaped as the runner reads commands: so a file name or message
// can neither end the command's line nor start one of its own.
func GitHub(w io.Writer, r *Result) error {
	bw := bufio.NewWriter(w)
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Suppressed != nil {
			continue
		}
		cmd := map[audit.Severity]string{audit.Error: "error", audit.Warning: "warning", audit.Info: "notice"}[f.Severity]
		// One annotation per place: both ends of a collision are marked.
		for _, loc := range r.Locations(f) {
			var props []string
			if loc.File != "" {
				props = append(props, "file="+ghProperty(display.Quote(loc.File)))
				if loc.Line > 0 {
					props = append(props, fmt.Sprintf("line=%d", loc.Line))
				}
			}
			props = append(props, "title="+ghProperty("ipckeys "+display.Quote(f.Code)))
			fmt.Fprintf(bw, "::%s %s::%s\n", cmd, strings.Join(props, ","), ghData(display.Quote(f.Message)))
		}
	}
	return bw.Flush()
}

// ghData escapes a workflow command's message: %, CR and LF.
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// ghProperty escapes a workflow command property value: as ghData, and
// also : and , which separate properties.
func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
