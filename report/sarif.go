package report

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/url"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/internal/display"
)

// SARIF 2.1.0, the subset ipckeys fills in. Field names follow the spec.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool              sarifTool         `json:"tool"`
		AutomationDetails *sarifAutomation  `json:"automationDetails,omitempty"`
		Invocations       []sarifInvocation `json:"invocations,omitempty"`
		Results           []sarifResult     `json:"results"`
	}
	// sarifAutomation names the run's category ("category/run"), which
	// code scanning keeps apart from other uploads.
	sarifAutomation struct {
		ID string `json:"id"`
	}
	sarifInvocation struct {
		ExecutionSuccessful        bool                `json:"executionSuccessful"`
		ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications"`
	}
	sarifNotification struct {
		Level      string              `json:"level"`
		Message    sarifText           `json:"message"`
		Descriptor *sarifDescriptorRef `json:"descriptor,omitempty"`
	}
	sarifDescriptorRef struct {
		ID string `json:"id"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		InformationURI string      `json:"informationUri"`
		Version        string      `json:"version,omitempty"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string         `json:"id"`
		Name                 string         `json:"name"`
		ShortDescription     sarifText      `json:"shortDescription"`
		FullDescription      sarifText      `json:"fullDescription"`
		Help                 sarifText      `json:"help"`
		DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
		Properties           map[string]any `json:"properties,omitempty"`
	}
	sarifConfig struct {
		Level string `json:"level"`
	}
	sarifText struct {
		Text string `json:"text"`
	}
	sarifResult struct {
		RuleID              string             `json:"ruleId"`
		RuleIndex           int                `json:"ruleIndex"`
		Level               string             `json:"level"`
		Message             sarifText          `json:"message"`
		Locations           []sarifLocation    `json:"locations,omitempty"`
		RelatedLocations    []sarifLocation    `json:"relatedLocations,omitempty"`
		PartialFingerprints map[string]string  `json:"partialFingerprints"`
		Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
		Properties          map[string]any     `json:"properties,omitempty"`
	}
	sarifLocation struct {
		ID               *int          `json:"id,omitempty"`
		PhysicalLocation sarifPhysical `json:"physicalLocation"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifact `json:"artifactLocation"`
		Region           *sarifRegion  `json:"region,omitempty"`
	}
	sarifArtifact struct {
		URI string `json:"uri"`
	}
	sarifRegion struct {
		StartLine int `json:"startLine"`
	}
	sarifSuppression struct {
		Kind          string `json:"kind"`
		Justification string `json:"justification"`
	}
)

// sarifSchemaURI is the schema a SARIF log names.
const sarifSchemaURI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

// sarifLevel maps a severity to a SARIF level.
func sarifLevel(s audit.Severity) string {
	switch s {
	case audit.Error:
		return "error"
	case audit.Warning:
		return "warning"
	}
	return "note"
}

// ruleName turns a code into the PascalCase name SARIF viewers show.
func ruleName(code string) string {
	var b strings.Builder
	for _, part := range strings.Split(code, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// fileURI writes a path as a SARIF artifact URI: relative paths stay
// relative references (code scanning resolves them against the checkout),
// absolute ones become file URIs; both are percent-encoded.
func fileURI(p string) string {
	u := url.URL{Path: filepath.ToSlash(p)}
	if filepath.IsAbs(p) {
		u.Scheme = "file"
	}
	return u.String()
}

// Fingerprint identifies a finding across runs: its code, key or live
// object, and the channels or paths it concerns, not its wording or the
// inode numbers of the day.
func (r *Result) Fingerprint(f *audit.Finding) string {
	parts := []string{f.Code}
	if f.Key != nil {
		parts = append(parts, ftok.Hex(*f.Key))
	}
	var who []string
	for _, i := range f.Entries {
		e := &r.Entries[i]
		if e.Channel != nil {
			who = append(who, "channel:"+e.Channel.Name)
		} else {
			who = append(who, "path:"+e.Path)
		}
	}
	if f.Where != nil {
		who = append(who, "place:"+f.Where.File)
	}
	if f.Object != nil {
		who = append(who, "object:"+f.Object.Facility+":"+ftok.Hex(f.Object.Key))
	}
	if sk := f.Socket; sk != nil {
		// Inodes and pids change with every restart; the endpoint and
		// the programs involved do not.
		if sk.Proto != "" {
			who = append(who, "socket:"+sk.Proto+":"+sk.Local)
		}
		for _, h := range sk.Holders {
			who = append(who, "exe:"+h.Exe)
		}
		if sk.Exe != "" {
			who = append(who, "exe:"+sk.Exe)
		}
	}
	sort.Strings(who)
	sum := sha256.Sum256([]byte(strings.Join(append(parts, who...), "\x00")))
	return hex.EncodeToString(sum[:16])
}

// sarifRules is one rule per finding code, and each code's index among
// them: what every SARIF log ipckeys writes declares.
func sarifRules() ([]sarifRule, map[string]int) {
	index := map[string]int{}
	var rules []sarifRule
	for i, rule := range audit.Rules {
		index[rule.Code] = i
		rules = append(rules, sarifRule{
			ID:                   rule.Code,
			Name:                 ruleName(rule.Code),
			ShortDescription:     sarifText{rule.Summary},
			FullDescription:      sarifText{rule.Summary},
			Help:                 sarifText{"Fix: " + rule.Fix},
			DefaultConfiguration: sarifConfig{sarifLevel(rule.Severity)},
			Properties:           map[string]any{"tags": []string{"ipc", "reliability"}},
		})
	}
	return rules, index
}

// SARIF writes the result as a SARIF 2.1.0 log with one rule per finding
// code.
func SARIF(w io.Writer, r *Result) error {
	rules, index := sarifRules()
	results := []sarifResult{}
	for i := range r.Findings {
		f := &r.Findings[i]
		res := sarifResult{
			RuleID:              f.Code,
			RuleIndex:           index[f.Code],
			Level:               sarifLevel(f.Severity),
			Message:             sarifText{display.Quote(f.Message)},
			PartialFingerprints: map[string]string{"ipckeysFinding/v1": r.Fingerprint(f)},
		}
		if loc := r.Locate(f); loc.File != "" {
			phys := sarifPhysical{ArtifactLocation: sarifArtifact{fileURI(loc.File)}}
			if loc.Line > 0 {
				phys.Region = &sarifRegion{StartLine: loc.Line}
			}
			res.Locations = []sarifLocation{{PhysicalLocation: phys}}
			// The other ends of a collision: every config line involved.
			for n, other := range r.Locations(f)[1:] {
				rp := sarifPhysical{ArtifactLocation: sarifArtifact{fileURI(other.File)}}
				if other.Line > 0 {
					rp.Region = &sarifRegion{StartLine: other.Line}
				}
				id := n + 1
				res.RelatedLocations = append(res.RelatedLocations, sarifLocation{ID: &id, PhysicalLocation: rp})
			}
		}
		if f.Key != nil {
			res.Properties = map[string]any{"key": ftok.Hex(*f.Key)}
		}
		if sp := f.Suppressed; sp != nil {
			res.Suppressions = []sarifSuppression{{Kind: "external", Justification: display.Quote(sp.Reason)}}
		}
		results = append(results, res)
	}
	v := r.Version.Module
	log := sarifLog{
		Schema:  sarifSchemaURI,
		Version: "2.1.0",
		Runs: []sarifRun{{
			Tool: sarifTool{Driver: sarifDriver{
				Name:           "ipckeys",
				InformationURI: "https://github.com/ipckeys/ipckeys",
				Version:        v,
				Rules:          rules,
			}},
			Results: results,
		}},
	}
	return WriteJSON(w, log)
}
