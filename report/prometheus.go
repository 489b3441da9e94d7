package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ipcscan"
)

// Prometheus writes the result in the text exposition format for the
// node_exporter textfile collector: gauges with the ipckeys_ prefix, base
// units, no sample timestamps. A result whose Err is set (the scan could
// not run) reports ipckeys_last_run_success 0 and no findings.
func Prometheus(w io.Writer, r *Result) error {
	bw := bufio.NewWriter(w)
	gauge := func(name, help string) {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
	}
	sample := func(name string, value float64, labels ...string) {
		bw.WriteString(name)
		if len(labels) > 0 {
			bw.WriteByte('{')
			for i := 0; i+1 < len(labels); i += 2 {
				if i > 0 {
					bw.WriteByte(',')
				}
				fmt.Fprintf(bw, "%s=\"%s\"", labels[i], promEscape(labels[i+1]))
			}
			bw.WriteByte('}')
		}
		fmt.Fprintf(bw, " %s\n", formatFloat(value))
	}

	gauge("ipckeys_build_info", "Build of the ipckeys that wrote these metrics; always 1.")
	sample("ipckeys_build_info", 1, "version", r.Version.Module, "revision", r.Version.Revision, "goversion", r.Version.GoVersion)
	gauge("ipckeys_last_run_timestamp_seconds", "When the last scan ran, in seconds since the Unix epoch.")
	sample("ipckeys_last_run_timestamp_seconds", float64(r.Time.UnixMilli())/1000)
	gauge("ipckeys_last_run_success", "1 if the last scan ran to the end (whatever it found), 0 if it could not run.")
	if r.Err != nil {
		sample("ipckeys_last_run_success", 0)
		return bw.Flush()
	}
	sample("ipckeys_last_run_success", 1)

	gauge("ipckeys_entries", "Keys checked: paths times proj ids, plus manifest channels.")
	sample("ipckeys_entries", float64(len(r.Entries)))

	type codeSev struct {
		code string
		sev  audit.Severity
	}
	counts := map[codeSev]int{}
	suppressed := map[string]int{}
	for _, f := range r.Findings {
		if f.Suppressed != nil {
			suppressed[f.Code]++
			continue
		}
		counts[codeSev{f.Code, f.Severity}]++
	}
	gauge("ipckeys_findings", "Findings of the last scan by code and severity, not counting suppressed ones.")
	for _, rule := range audit.Rules {
		for _, sev := range []audit.Severity{audit.Error, audit.Warning, audit.Info} {
			n := counts[codeSev{rule.Code, sev}]
			if n > 0 || sev == rule.Severity {
				sample("ipckeys_findings", float64(n), "code", rule.Code, "severity", sev.String())
			}
		}
	}
	gauge("ipckeys_findings_suppressed", "Findings of the last scan covered by an ignore file entry, by code.")
	for _, rule := range audit.Rules {
		sample("ipckeys_findings_suppressed", float64(suppressed[rule.Code]), "code", rule.Code)
	}
	s := r.Summary()
	gauge("ipckeys_gate_failed", "1 if the last scan had a finding at or above its --fail-on threshold.")
	sample("ipckeys_gate_failed", boolFloat(s.Failed))

	gauge("ipckeys_live_checked", "1 if the last scan checked the live IPC objects.")
	sample("ipckeys_live_checked", boolFloat(r.Snap != nil))
	if r.Snap == nil {
		return bw.Flush()
	}
	states, staleBytes := liveStates(r.Snap)
	gauge("ipckeys_live_objects", "Live System V IPC objects in the scanned IPC namespace, by facility and state.")
	for _, k := range []struct{ fac, state string }{
		{"shm", "attached"}, {"shm", "unattached"}, {"shm", "stale"}, {"shm", "removed"},
		{"sem", "present"}, {"msg", "present"},
	} {
		sample("ipckeys_live_objects", float64(states[k.fac+"/"+k.state]), "facility", k.fac, "state", k.state)
	}
	gauge("ipckeys_stale_segment_bytes", "Bytes held by segments nothing is attached to and whose creator is gone.")
	sample("ipckeys_stale_segment_bytes", float64(staleBytes))
	if a := r.Snap.Attach; a != nil {
		gauge("ipckeys_attachments_unreadable_processes", "Processes whose /proc/PID/maps could not be read in the last scan.")
		sample("ipckeys_attachments_unreadable_processes", float64(a.Unreadable))
	}
	return bw.Flush()
}

// liveStates counts the snapshot's objects by facility/state, and the
// bytes of stale segments.
func liveStates(s *ipcscan.Snapshot) (map[string]int, uint64) {
	states := map[string]int{}
	var stale uint64
	for _, sg := range s.Shm {
		switch {
		case sg.Removed():
			states["shm/removed"]++
		case sg.Nattch > 0:
			states["shm/attached"]++
		case s.Stale(sg):
			states["shm/stale"]++
			stale += sg.Size
		default:
			states["shm/unattached"]++
		}
	}
	states["sem/present"] = len(s.Sem)
	states["msg/present"] = len(s.Msg)
	return states, stale
}

func promEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func formatFloat(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.3f", v)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
