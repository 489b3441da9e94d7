package report

import "testing"

// TestArtifactUnder: a file under --source-root is located relative to
// it; one outside it, or the root itself, by its file URI.
func TestArtifactUnder(t *testing.T) {
	for _, tc := range []struct {
		file, root string
		want       fleetSarifArtifact
	}{
		{"/srv/repo/deploy/app.manifest", "/srv/repo", fleetSarifArtifact{URI: "deploy/app.manifest", URIBaseID: "SRCROOT"}},
		{"/srv/repo/deploy/app.manifest", "/srv/repo/", fleetSarifArtifact{URI: "deploy/app.manifest", URIBaseID: "SRCROOT"}},
		{"/srv/repo/a b#c.conf", "/srv/repo", fleetSarifArtifact{URI: "a%20b%23c.conf", URIBaseID: "SRCROOT"}},
		{"/srv/repository/x.conf", "/srv/repo", fleetSarifArtifact{URI: "file:///srv/repository/x.conf"}},
		{"/etc/app.manifest", "/srv/repo", fleetSarifArtifact{URI: "file:///etc/app.manifest"}},
		{"/srv/repo", "/srv/repo", fleetSarifArtifact{URI: "file:///srv/repo"}},
		{"deploy/app.manifest", "/srv/repo", fleetSarifArtifact{URI: "deploy/app.manifest"}},
		{"/etc/app.manifest", "", fleetSarifArtifact{URI: "file:///etc/app.manifest"}},
	} {
		if got := artifactUnder(tc.file, tc.root); got != tc.want {
			t.Errorf("artifactUnder(%q, %q) = %+v, want %+v", tc.file, tc.root, got, tc.want)
		}
	}
	if got := rootURI("/srv/repo"); got != "file:///srv/repo/" {
		t.Errorf("rootURI: %s", got)
	}
}
