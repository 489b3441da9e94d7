package report

import (
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/ipckeys/ipckeys/fleet"
)

// The fleet run adds to scan's SARIF types what only it writes: the exit
// code, the hosts checked, and locations relative to a source root. Each
// type embeds scan's and shadows the field it extends (encoding/json
// takes the shallower of two fields of one name).
type (
	fleetSarifLog struct {
		Schema  string          `json:"$schema"`
		Version string          `json:"version"`
		Runs    []fleetSarifRun `json:"runs"`
	}
	fleetSarifRun struct {
		sarifRun
		OriginalURIBaseIDs map[string]sarifArtifact `json:"originalUriBaseIds,omitempty"`
		Invocations        []fleetSarifInvocation   `json:"invocations"`
		Results            []fleetSarifResult       `json:"results"`
		Properties         fleetSarifRunProperties  `json:"properties"`
	}
	fleetSarifInvocation struct {
		sarifInvocation
		ExitCode            int    `json:"exitCode"`
		ExitCodeDescription string `json:"exitCodeDescription"`
	}
	fleetSarifRunProperties struct {
		Hosts []fleetSarifHost `json:"hosts"`
	}
	fleetSarifHost struct {
		Name       string `json:"name"`
		Status     string `json:"status"`
		ReasonCode string `json:"reasonCode,omitempty"`
	}
	fleetSarifResult struct {
		sarifResult
		Locations []fleetSarifLocation `json:"locations,omitempty"`
	}
	fleetSarifLocation struct {
		PhysicalLocation fleetSarifPhysical `json:"physicalLocation"`
	}
	fleetSarifPhysical struct {
		ArtifactLocation fleetSarifArtifact `json:"artifactLocation"`
		Region           *sarifRegion       `json:"region,omitempty"`
	}
	fleetSarifArtifact struct {
		URI       string `json:"uri"`
		URIBaseID string `json:"uriBaseId,omitempty"`
	}
)

// SourceRootID is the uriBaseId of locations under the source root.
const SourceRootID = "SRCROOT"

// fleetExitCodes words the fleet's exit codes for exitCodeDescription.
var fleetExitCodes = map[int]string{0: "pass", 1: "findings at or above --fail-on", 2: "hosts not checked"}

// FleetSARIF writes the fleet as one SARIF run, whatever the number of
// hosts: one result per merged finding at its manifest or config line,
// with the hosts it is on in the message and in properties (hosts,
// checkedHosts, keys per host), and partialFingerprints that leave the
// keys out, since they differ between hosts. Hosts not checked are tool
// execution notifications, and make the run's executionSuccessful false;
// the invocation's exitCode is the command's; the run's properties list
// every host with its status. With sourceRoot, a location under it is
// relative to it (uriBaseId SRCROOT, its file URI in originalUriBaseIds),
// as code scanning needs to tie it to the repository's file.
func FleetSARIF(w io.Writer, v *fleet.View, version Version, sourceRoot string) error {
	rules, index := sarifRules()
	results := []fleetSarifResult{}
	for _, f := range v.Findings {
		ri, known := index[f.Code]
		res := sarifResult{
			RuleID:              f.Code,
			RuleIndex:           ri,
			Level:               sarifLevel(f.Rank()),
			PartialFingerprints: map[string]string{"ipckeysFleetFinding/v1": f.ID},
		}
		if !known {
			res.RuleIndex = -1 // a code of a newer ipckeys: no rule here
		}
		msg := strings.Join(f.Concerns, ", ") + ": " + f.HostsPhrase(len(v.Hosts), 0)
		keys := map[string]string{}
		for _, on := range f.PerHost {
			if on.Key != "" {
				keys[on.Host] = on.Key
			}
		}
		for _, on := range f.PerHost {
			if on.Suppressed == nil || len(f.Hosts) == 0 {
				msg += ". " + on.Host + ": " + on.Message
				break
			}
		}
		res.Message = sarifText{msg}
		res.Properties = map[string]any{"hosts": f.Hosts, "checkedHosts": f.Of}
		if len(keys) > 0 {
			res.Properties["keys"] = keys
		}
		// The commands that fix it, per host: SARIF's own fixes are
		// edits of files, not commands to run.
		fixes := map[string][]string{}
		for _, on := range f.PerHost {
			if on.Suppressed == nil && len(on.Fixes) > 0 {
				fixes[on.Host] = on.Fixes
			}
		}
		if len(fixes) > 0 {
			res.Properties["fixes"] = fixes
		}
		if len(f.SuppressedOn) > 0 {
			res.Properties["suppressedOn"] = f.SuppressedOn
		}
		if len(f.Hosts) == 0 {
			for _, on := range f.PerHost {
				res.Suppressions = []sarifSuppression{{Kind: "external", Justification: on.Suppressed.Reason}}
				break
			}
		}
		out := fleetSarifResult{sarifResult: res}
		if f.File != "" {
			phys := fleetSarifPhysical{ArtifactLocation: artifactUnder(f.File, sourceRoot)}
			if f.Line > 0 {
				phys.Region = &sarifRegion{StartLine: f.Line}
			}
			out.Locations = []fleetSarifLocation{{PhysicalLocation: phys}}
		}
		results = append(results, out)
	}
	inv := fleetSarifInvocation{
		sarifInvocation: sarifInvocation{ExecutionSuccessful: len(v.Unchecked()) == 0, ToolExecutionNotifications: []sarifNotification{}},
		ExitCode:        v.Summary.ExitStatus, ExitCodeDescription: fleetExitCodes[v.Summary.ExitStatus],
	}
	for _, h := range v.Unchecked() {
		level := "error"
		if v.Summary.AllowUnchecked {
			level = "warning"
		}
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level: level, Message: sarifText{h.Name + ": not checked: " + h.Reason},
			Descriptor: &sarifDescriptorRef{ID: "host-not-checked"},
		})
	}
	props := fleetSarifRunProperties{Hosts: []fleetSarifHost{}}
	for _, h := range v.Hosts {
		props.Hosts = append(props.Hosts, fleetSarifHost{Name: h.Name, Status: h.Status, ReasonCode: h.ReasonCode})
	}
	run := fleetSarifRun{
		sarifRun: sarifRun{
			Tool: sarifTool{Driver: sarifDriver{
				Name:           "ipckeys",
				InformationURI: "https://github.com/ipckeys/ipckeys",
				Version:        version.Module,
				Rules:          rules,
			}},
			AutomationDetails: &sarifAutomation{ID: "ipckeys-fleet/" + v.Time},
		},
		Invocations: []fleetSarifInvocation{inv},
		Results:     results,
		Properties:  props,
	}
	if sourceRoot != "" {
		run.OriginalURIBaseIDs = map[string]sarifArtifact{SourceRootID: {URI: rootURI(sourceRoot)}}
	}
	return WriteJSON(w, fleetSarifLog{Schema: sarifSchemaURI, Version: "2.1.0", Runs: []fleetSarifRun{run}})
}

// artifactUnder locates file relative to root when it is under it, else
// by its file URI.
func artifactUnder(file, root string) fleetSarifArtifact {
	if root != "" {
		if rel, err := filepath.Rel(filepath.Clean(root), filepath.Clean(file)); err == nil && filepath.IsAbs(file) &&
			rel != ".." && !strings.HasPrefix(rel, "../") && rel != "." {
			return fleetSarifArtifact{URI: (&url.URL{Path: filepath.ToSlash(rel)}).String(), URIBaseID: SourceRootID}
		}
	}
	return fleetSarifArtifact{URI: fileURI(file)}
}

// rootURI is the file URI of a directory, ending in "/" as SARIF requires
// of a base.
func rootURI(root string) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Clean(root))}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u.String()
}
