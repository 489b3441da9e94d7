package report_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ipckeys/ipckeys/internal/nstest"
	"github.com/ipckeys/ipckeys/report"
)

// TestFleetHTMLInChromium opens the fleet page from its file in headless
// Chromium, driven by chromedriver over loopback (WebDriver): the script
// runs under the page's own CSP, the matrix cells have the hosts,
// channels, colours and marks of the fixture, a click on a cell shows that
// host's channel, nothing is fetched, and a screenshot is kept
// ($IPCKEYS_ARTIFACTS, else a directory under the system's temp dir).
// Without Chromium the test is skipped, unless IPCKEYS_REQUIRE_ROOT_TESTS
// is set (CI), where a skip would hide it.
func TestFleetHTMLInChromium(t *testing.T) {
	chromium := lookPath("chromium", "chromium-browser", "google-chrome")
	driver := lookPath("chromedriver")
	if chromium == "" || driver == "" {
		if os.Getenv(nstest.RequireEnv) != "" {
			t.Fatalf("%s is set but chromium or chromedriver is missing (apt-get install chromium chromium-driver)", nstest.RequireEnv)
		}
		t.Skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "fleet.html")
	var b bytes.Buffer
	if err := report.FleetHTML(&b, fixtureFleet(t)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	wd := startDriver(t, driver, chromium, dir)
	wd.post("/url", map[string]any{"url": "file://" + page}, nil)

	var ready string
	wd.exec(`return document.body.getAttribute("data-ready")`, &ready)
	if ready != "1" {
		t.Fatalf("the page's script did not run (data-ready %q): blocked by its CSP?", ready)
	}

	// Every cell of the matrix, as the DOM has it.
	var cells [][]string
	wd.exec(`return Array.from(document.querySelectorAll("#matrix td.cell")).map(function (td) {
		return [td.dataset.host, td.dataset.channel, td.dataset.worst, td.dataset.differs, td.textContent];
	})`, &cells)
	want := [][]string{}
	for _, h := range []string{"host01", "host02", "host03", "host04", "host05"} {
		row := [][]string{
			{h, "channel:orders", "clean", "", "0x6c014001"},
			{h, "channel:audit", "clean", "", "0x6c014002"},
			{h, "channel:cache", "clean", "", "0x6c01beef"},
		}
		switch h {
		case "host03":
			row[0] = []string{h, "channel:orders", "error", "live", "0x6c014001≠"}
			row[1] = []string{h, "channel:audit", "error", "key live", "0x6c014001≠"}
		case "host05":
			row[2] = []string{h, "channel:cache", "warning", "key dev fs_type", "0x6c1b0007≠"}
		}
		want = append(want, row...)
	}
	if !reflect.DeepEqual(cells, want) {
		t.Errorf("matrix cells:\n got %q\nwant %q", cells, want)
	}
	// The colours come from the page's style (allowed by its CSP).
	var colours []string
	wd.exec(`return ["host03", "host05", "host01"].map(function (h, i) {
		var ch = ["channel:audit", "channel:cache", "channel:orders"][i];
		return getComputedStyle(document.querySelector('td[data-host="' + h + '"][data-channel="' + ch + '"]')).backgroundColor;
	})`, &colours)
	if !reflect.DeepEqual(colours, []string{"rgb(198, 40, 40)", "rgb(249, 168, 37)", "rgb(200, 230, 201)"}) {
		t.Errorf("cell colours (error, warning, clean) %q", colours)
	}
	// The hosts not checked are apart, with their reasons.
	var unchecked [][]string
	wd.exec(`return Array.from(document.querySelectorAll("#unchecked tbody tr")).map(function (tr) {
		return [tr.dataset.host, tr.querySelector(".reason").textContent];
	})`, &unchecked)
	if len(unchecked) != 2 || unchecked[0][0] != "host06" || !strings.HasPrefix(unchecked[0][1], "scan failed: ipckeys: deploy/app.manifest:4: ") ||
		unchecked[1][0] != "host07" || !strings.HasPrefix(unchecked[1][1], "no report: ") {
		t.Errorf("unchecked hosts %q", unchecked)
	}
	var inMatrix int
	wd.exec(`return document.querySelectorAll('#matrix tr[data-host="host06"], #matrix tr[data-host="host07"]').length`, &inMatrix)
	if inMatrix != 0 {
		t.Errorf("hosts not checked have %d rows in the matrix", inMatrix)
	}

	// A real click on host03's audit cell shows its entry and findings.
	var found map[string]string
	wd.post("/element", map[string]any{"using": "css selector", "value": `td[data-host="host03"][data-channel="channel:audit"]`}, &found)
	var elem string
	for _, id := range found {
		elem = id
	}
	wd.post("/element/"+elem+"/click", map[string]any{}, nil)
	var shown []string
	wd.exec(`var d = document.getElementById("details");
		return [d.dataset.host, d.dataset.channel, d.innerText, document.querySelector("td.selected").dataset.channel, location.hash]`, &shown)
	if len(shown) != 5 || shown[0] != "host03" || shown[1] != "channel:audit" || shown[3] != "channel:audit" {
		t.Fatalf("after the click: %q", shown)
	}
	for _, w := range []string{"host03 · channel audit", "/srv/app/audit.key", "0x6c014001", "32260097 = 0x1ec4001", "shm nattch 2 (shm id 3, owner root)",
		"Differs from most hosts: key 0x6c014001 (4 of 5 hosts: 0x6c014002)", "key-collision"} {
		if !strings.Contains(shown[2], w) {
			t.Errorf("the details lack %q:\n%s", w, shown[2])
		}
	}
	if strings.Contains(shown[2], "nattch-mismatch") {
		t.Errorf("audit's details show orders' nattch-mismatch:\n%s", shown[2])
	}
	// Nothing was fetched: the page is one file.
	var fetched []string
	wd.exec(`return performance.getEntriesByType("resource").map(function (e) { return e.name; })`, &fetched)
	if len(fetched) != 0 {
		t.Errorf("the page fetched %q", fetched)
	}

	var shot string
	wd.get("/screenshot", &shot)
	img, err := base64.StdEncoding.DecodeString(shot)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(img))
	if err != nil || cfg.Width < 800 || cfg.Height < 600 {
		t.Fatalf("screenshot: %v, %dx%d", err, cfg.Width, cfg.Height)
	}
	artifacts := os.Getenv("IPCKEYS_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join(os.TempDir(), "ipckeys-artifacts")
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(artifacts, "fleet-html-chromium.png")
	if err := os.WriteFile(out, img, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot (%dx%d, host03/audit selected): %s", cfg.Width, cfg.Height, out)
}

func lookPath(names ...string) string {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// webDriver is a WebDriver session on a chromedriver at 127.0.0.1.
type webDriver struct {
	t       *testing.T
	base    string // http://127.0.0.1:PORT
	session string
	client  *http.Client
}

// startDriver starts chromedriver on a free loopback port and a headless
// Chromium session with a profile of its own under dir; both end with
// the test.
func startDriver(t *testing.T, driver, chromium, dir string) *webDriver {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(driver, fmt.Sprintf("--port=%d", port), "--allowed-ips=127.0.0.1", "--log-path="+filepath.Join(dir, "chromedriver.log"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	wd := &webDriver{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port), client: &http.Client{Timeout: 60 * time.Second}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := wd.client.Get(wd.base + "/status")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromedriver did not answer on %s: %v", wd.base, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir=" + filepath.Join(dir, "profile"), "--window-size=1400,1000"}
	var created struct {
		SessionID string `json:"sessionId"`
	}
	wd.do("POST", "/session", map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName":        "chrome",
		"goog:chromeOptions": map[string]any{"binary": chromium, "args": args},
	}}}, &created)
	if created.SessionID == "" {
		t.Fatal("chromedriver made no session")
	}
	wd.session = "/session/" + created.SessionID
	t.Cleanup(func() { wd.do("DELETE", wd.session, nil, nil) })
	return wd
}

func (wd *webDriver) post(path string, body, out any) { wd.do("POST", wd.session+path, body, out) }
func (wd *webDriver) get(path string, out any)        { wd.do("GET", wd.session+path, nil, out) }

// exec runs a script in the page and decodes what it returns.
func (wd *webDriver) exec(script string, out any) {
	wd.post("/execute/sync", map[string]any{"script": script, "args": []any{}}, out)
}

// do sends one WebDriver command and decodes its "value" into out.
func (wd *webDriver) do(method, path string, body, out any) {
	wd.t.Helper()
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			wd.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, wd.base+path, rd)
	if err != nil {
		wd.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := wd.client.Do(req)
	if err != nil {
		wd.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		wd.t.Fatal(err)
	}
	var env struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || resp.StatusCode != http.StatusOK {
		wd.t.Fatalf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(env.Value, out); err != nil {
			wd.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}
