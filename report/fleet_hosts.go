package report

import (
	"bufio"
	"encoding/json"
	"io"

	"github.com/ipckeys/ipckeys/fleet"
)

// fleetHostLine is one line of FleetHosts.
type fleetHostLine struct {
	Name       string `json:"name"`
	Status     string `json:"status"`
	ReasonCode string `json:"reason_code,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Worst      string `json:"worst,omitempty"`
	Errors     int    `json:"errors"`
	Warnings   int    `json:"warnings"`
	Info       int    `json:"info"`
	Source     string `json:"source,omitempty"`
}

// FleetHosts writes one JSON object per line per host, in the view's
// host order: its name, status (pass, fail, unchecked), reason code and
// reason when not checked, worst severity and counts. It is the verdict
// per host without the channels and findings, small whatever the size of
// the reports, for what acts on each host (the playbook marks the failing
// ones failed in its recap).
func FleetHosts(w io.Writer, v *fleet.View) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, h := range v.Hosts {
		if err := enc.Encode(fleetHostLine{
			Name: h.Name, Status: h.Status, ReasonCode: h.ReasonCode, Reason: h.Reason,
			Worst: h.Worst, Errors: h.Errors, Warnings: h.Warnings, Info: h.Info, Source: h.Source,
		}); err != nil {
			return err
		}
	}
	return bw.Flush()
}
