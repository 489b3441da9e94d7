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
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/fleet"
	"github.com/ipckeys/ipckeys/internal/nstest"
	"github.com/ipckeys/ipckeys/report"
)

// TestFleetHTMLInChromium opens the fleet page from its file in headless
// Chromium, driven by chromedriver over loopback (WebDriver): the script
// runs under the page's own CSP, the rows come failing hosts first, then
// hosts not checked with their reasons, then passing hosts that differ;
// the cells have the fixture's colours, symbols and marks; a click on a
// cell shows that host's channel over the matrix, and nothing is fetched.
// Without Chromium the test is skipped, unless IPCKEYS_REQUIRE_ROOT_TESTS
// is set (CI), where a skip would hide it.
func TestFleetHTMLInChromium(t *testing.T) {
	dir := t.TempDir()
	page := writePage(t, dir, fixtureFleet(t))
	wd := startDriver(t, dir, "1400,1000", false)
	wd.post("/url", map[string]any{"url": "file://" + page}, nil)
	wd.ready()

	// The rows of the matrix, as the DOM has them.
	var rows [][]string
	wd.exec(`return Array.from(document.querySelectorAll("#matrix tbody tr")).map(function (tr) {
		return [tr.id, tr.dataset.host, tr.dataset.state, tr.dataset.worst];
	})`, &rows)
	want := [][]string{{"host/host03", "host03", "fail", "error"}, {"host/host06", "host06", "unchecked", "clean"},
		{"host/host07", "host07", "unchecked", "clean"}, {"host/host05", "host05", "differs", "warning"}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows:\n got %q\nwant %q", rows, want)
	}
	var cells [][]string
	wd.exec(`var heads = Array.from(document.querySelectorAll("#matrix thead th"));
		return Array.from(document.querySelectorAll("#matrix td.cell")).map(function (td) {
		return [td.parentNode.dataset.host, heads[td.cellIndex].dataset.channel, td.className, td.dataset.differs || "", td.textContent];
	})`, &cells)
	wantCells := [][]string{
		{"host03", "channel:orders", "cell w-error", "live", "✖ 0x6c014001≠"},
		{"host03", "channel:audit", "cell w-error", "key live", "✖ 0x6c014001≠"},
		{"host03", "channel:cache", "cell w-clean", "", "✓ 0x6c01beef"},
		{"host05", "channel:orders", "cell w-clean", "", "✓ 0x6c014001"},
		{"host05", "channel:audit", "cell w-clean", "", "✓ 0x6c014002"},
		{"host05", "channel:cache", "cell w-warning", "key dev fs_type", "▲ 0x6c1b0007≠"},
	}
	if !reflect.DeepEqual(cells, wantCells) {
		t.Errorf("matrix cells:\n got %q\nwant %q", cells, wantCells)
	}
	// The colours come from the page's style (allowed by its CSP).
	var colours []string
	wd.exec(`return ["c/host03/channel:audit", "c/host05/channel:cache"].map(function (id) {
		return getComputedStyle(document.getElementById(id)).backgroundColor;
	}).concat([getComputedStyle(document.querySelector('tr[data-host="host05"] td.cell')).backgroundColor])`, &colours)
	if !reflect.DeepEqual(colours, []string{"rgb(198, 40, 40)", "rgb(249, 168, 37)", "rgb(220, 239, 220)"}) {
		t.Errorf("cell colours (error, warning, clean) %q", colours)
	}
	var unchecked []string
	wd.exec(`return Array.from(document.querySelectorAll('#matrix tr[data-state="unchecked"] td.reason')).map(function (td) { return td.textContent; })`, &unchecked)
	if len(unchecked) != 2 || !strings.HasPrefix(unchecked[0], "scan-failed scan failed: ipckeys: deploy/app.manifest:4: ") || !strings.HasPrefix(unchecked[1], "no-report no report: ") {
		t.Errorf("unchecked rows %q", unchecked)
	}
	var passing []string
	wd.exec(`return [document.querySelector("#passing summary").textContent].concat(Array.from(document.querySelectorAll("#passing .hostlist span")).map(function (s) { return s.id; }))`, &passing)
	if !reflect.DeepEqual(passing, []string{"3 passing hosts with no finding, like most hosts on every channel", "host/host01", "host/host02", "host/host04"}) {
		t.Errorf("passing hosts %q", passing)
	}

	// A real click on host03's audit cell shows its entry and findings
	// over the matrix.
	wd.click(`td[id="c/host03/channel:audit"] a`)
	var shown []string
	wd.exec(`var d = document.getElementById("details");
		return [d.dataset.host, d.dataset.channel, d.innerText, document.querySelector("td.selected").id, location.hash, String(document.getElementById("overlay").hidden)]`, &shown)
	if len(shown) != 6 || shown[0] != "host03" || shown[1] != "channel:audit" || shown[3] != "c/host03/channel:audit" || shown[4] != "#d/host03/channel:audit" || shown[5] != "false" {
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
	wd.screenshot("fleet-html-chromium.png")
}

// TestFleetHTMLLargeFleet opens the page of a fleet of 300 hosts at
// 1366x768, as an operator does at 3 a.m.: every failing host is on the
// first screen, the filters change what is shown, a deep link's row is
// below the sticky header, and the printed page (print media, and
// Chromium's printToPDF) holds every failing host with its details. With
// scripts disabled, the details are in the document.
func TestFleetHTMLLargeFleet(t *testing.T) {
	dir := t.TempDir()
	v := largeFleet(t, 300)
	page := writePage(t, dir, v)
	failing := v.HostNames(func(h *fleet.Host) bool { return h.Failing })
	if len(failing) != 3 {
		t.Fatalf("the fleet has failing hosts %q", failing)
	}
	wd := startDriver(t, dir, "1366,768", false)
	wd.post("/url", map[string]any{"url": "file://" + page}, nil)
	wd.ready()

	// The failing hosts are on the first screen, below the header.
	var first []string
	wd.exec(`var top = document.getElementById("top").getBoundingClientRect().bottom;
		return Array.from(document.querySelectorAll('#matrix tr[data-state="fail"]')).filter(function (tr) {
			var r = tr.getBoundingClientRect(); return r.top >= top && r.bottom <= innerHeight;
		}).map(function (tr) { return tr.dataset.host; })`, &first)
	if !reflect.DeepEqual(first, failing) {
		t.Errorf("failing hosts on the first screen %q, want %q", first, failing)
	}
	wd.screenshot("fleet-html-300-hosts.png")

	// The filters change what is shown.
	visible := func() []string {
		var out []string
		wd.exec(`return Array.from(document.querySelectorAll("#matrix tbody tr")).filter(function (tr) { return tr.offsetParent !== null; }).map(function (tr) { return tr.dataset.host; })`, &out)
		return out
	}
	set := func(id, value string) {
		wd.exec(`var el = document.getElementById(arguments[0]); el.value = arguments[1]; el.dispatchEvent(new Event("input")); return null`, nil, id, value)
	}
	all := visible()
	set("state", "unchecked")
	if got := visible(); !reflect.DeepEqual(got, v.HostNames(func(h *fleet.Host) bool { return !h.Checked })) {
		t.Errorf("state unchecked shows %q", got)
	}
	set("state", "")
	set("severity", "error")
	if got := visible(); !reflect.DeepEqual(got, failing) {
		t.Errorf("severity error shows %q, want %q", got, failing)
	}
	set("severity", "")
	set("q", "db-0142")
	if got := visible(); !reflect.DeepEqual(got, []string{"db-0142.eu-west.example.net"}) {
		t.Errorf("search db-0142 shows %q", got)
	}
	var columns []string
	set("q", "svc07")
	wd.exec(`return Array.from(document.querySelectorAll("#matrix thead th")).filter(function (th) { return th.offsetParent !== null; }).map(function (th) { return th.textContent; })`, &columns)
	if !reflect.DeepEqual(columns, []string{"host", "svc07"}) || len(visible()) != len(all) {
		t.Errorf("search svc07 shows columns %q and %d rows of %d", columns, len(visible()), len(all))
	}
	set("q", "")
	if got := visible(); !reflect.DeepEqual(got, all) {
		t.Errorf("no filter shows %d rows, first %d", len(got), len(all))
	}

	// A deep link to a row far down the page: the row is below the
	// sticky header, on screen.
	target := "host/db-0200.eu-west.example.net"
	wd.post("/url", map[string]any{"url": "file://" + page + "#" + target}, nil)
	wd.ready()
	var pos []float64
	wd.exec(`var r = document.getElementById(arguments[0]).getBoundingClientRect();
		return [document.getElementById("top").getBoundingClientRect().bottom, r.top, r.bottom, innerHeight]`, &pos, target)
	if len(pos) != 4 || pos[1] < pos[0] || pos[2] > pos[3] {
		t.Errorf("deep link %s: header ends at %v, row at %v..%v, window %v", target, pos[0], pos[1], pos[2], pos[3])
	}
	// A deep link to a cell opens its details.
	wd.post("/url", map[string]any{"url": "file://" + page + "#c/db-0142.eu-west.example.net/channel:svc04"}, nil)
	wd.ready()
	var opened []string
	wd.exec(`var d = document.getElementById("details"); return [String(document.getElementById("overlay").hidden), d.dataset.host || "", d.dataset.channel || ""]`, &opened)
	if !reflect.DeepEqual(opened, []string{"false", "db-0142.eu-west.example.net", "channel:svc04"}) {
		t.Errorf("cell deep link: %q", opened)
	}

	// Printed: every failing host's details are shown, the screen parts
	// are not.
	wd.cdp("Emulation.setEmulatedMedia", map[string]any{"media": "print"})
	var printed []string
	wd.exec(`return Array.from(document.querySelectorAll("#details-list article.detail")).filter(function (a) { return a.offsetParent !== null; }).map(function (a) { return a.dataset.host; })`, &printed)
	for _, h := range failing {
		if !slices.Contains(printed, h) {
			t.Errorf("print media lacks the details of failing host %s (has %d details)", h, len(printed))
		}
	}
	var screenOnly int
	wd.exec(`return Array.from(document.querySelectorAll("#filters, #overlay, .matrix-wrap")).filter(function (e) { return e.offsetParent !== null; }).length`, &screenOnly)
	if screenOnly != 0 {
		t.Errorf("%d screen parts are printed", screenOnly)
	}
	wd.screenshot("fleet-html-300-hosts-print.png")
	// Dark mode follows the system's.
	wd.cdp("Emulation.setEmulatedMedia", map[string]any{"media": "", "features": []map[string]string{{"name": "prefers-color-scheme", "value": "dark"}}})
	var dark []string
	wd.exec(`return [getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color]`, &dark)
	if !reflect.DeepEqual(dark, []string{"rgb(13, 17, 23)", "rgb(230, 237, 243)"}) {
		t.Errorf("dark mode: background and text %q", dark)
	}
	wd.screenshot("fleet-html-300-hosts-dark.png")
	wd.cdp("Emulation.setEmulatedMedia", map[string]any{"media": "", "features": []map[string]string{{"name": "prefers-color-scheme", "value": "light"}}})
	var pdf struct {
		Data string `json:"data"`
	}
	wd.cdpOut("Page.printToPDF", map[string]any{"printBackground": true}, &pdf)
	raw, err := base64.StdEncoding.DecodeString(pdf.Data)
	if err != nil || !bytes.HasPrefix(raw, []byte("%PDF-")) || !bytes.Contains(raw, []byte("/Type /Page")) {
		t.Fatalf("printToPDF: %v, %d bytes", err, len(raw))
	}
	artifact(t, "fleet-html-300-hosts.pdf", raw)

	// Scripts disabled (a mail viewer): the details are in the document
	// and shown.
	wd2 := startDriver(t, dir, "1366,768", true)
	wd2.post("/url", map[string]any{"url": "file://" + page}, nil)
	var source string
	wd2.get("/source", &source)
	if strings.Contains(source, `data-ready="1"`) {
		t.Fatal("the page's script ran with scripts disabled")
	}
	for _, h := range failing {
		if !strings.Contains(source, `<article class="detail w-error" id="d/`+h+`/channel:svc03"`) {
			t.Errorf("without scripts, the details of %s are not in the document", h)
		}
	}
	var found map[string]string
	wd2.post("/element", map[string]any{"using": "css selector", "value": `article[id="d/db-0142.eu-west.example.net/channel:svc03"]`}, &found)
	var displayed bool
	for _, id := range found {
		wd2.get("/element/"+id+"/displayed", &displayed)
	}
	if !displayed {
		t.Error("without scripts, a failing host's details are not displayed")
	}
	found = nil
	wd2.post("/element", map[string]any{"using": "css selector", "value": "#filters"}, &found)
	for _, id := range found {
		wd2.get("/element/"+id+"/displayed", &displayed)
	}
	if displayed {
		t.Error("without scripts, the filters (which need them) are shown")
	}
	wd2.screenshot("fleet-html-300-hosts-noscript.png")
}

// writePage writes a view's page into dir.
func writePage(t *testing.T, dir string, v *fleet.View) string {
	t.Helper()
	page := filepath.Join(dir, "fleet.html")
	var b bytes.Buffer
	if err := report.FleetHTML(&b, v); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return page
}

// largeFleet is a fleet of n hosts with 24 channels each, made of scan
// reports as scan writes them: three hosts fail (two channels get one key),
// every 40th has a warning, every 25th has a key file of another inode on
// svc07, every 60th host's scan failed and host 77 could not be reached.
func largeFleet(t *testing.T, n int) *fleet.View {
	t.Helper()
	var loaded []fleet.Loaded
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("db-%04d.eu-west.example.net", i)
		switch {
		case i%60 == 0:
			loaded = append(loaded, fleet.ParseMarker(strings.NewReader("ipckeys: /etc/app/app.conf: permission denied\n"), "r/"+name+".failed", name))
			continue
		case i == 77:
			loaded = append(loaded, fleet.ParseMarker(strings.NewReader("unreachable: Failed to connect to the host via ssh: Connection refused\n"), "r/"+name+".failed", name))
			continue
		}
		var entries, findings []string
		for c := 1; c <= 24; c++ {
			ino := 0x4000 + c
			if c == 7 && i%25 == 0 {
				ino = 0x9000 + i
			}
			if c == 4 && (i == 37 || i == 142 || i == 251) {
				ino = 0x4003
			}
			entries = append(entries, fmt.Sprintf(`{"name":"svc%02d","manifest":"deploy/app.manifest","line":%d,"path":"/srv/app/svc%02d.key","proj":108,"key":"0x6c01%04x","dev":"8:1","ino":%d,"fingerprint":"0x01%04x","fs_type":"ext4","live":{"held":[]}}`,
				c, c, c, ino&0xffff, ino, ino&0xffff))
		}
		if i == 37 || i == 142 || i == 251 {
			findings = append(findings, `{"code":"key-collision","severity":"error","key":"0x6c014003","message":"channel svc03 and channel svc04 get the same key 0x6c014003","entries":[{"name":"svc03","manifest":"deploy/app.manifest","line":3,"path":"/srv/app/svc03.key","proj":108},{"name":"svc04","manifest":"deploy/app.manifest","line":4,"path":"/srv/app/svc04.key","proj":108}]}`)
		}
		if i%40 == 0 {
			findings = append(findings, `{"code":"unstable-fs","severity":"warning","key":"0x6c014005","message":"channel svc05: the key file is on tmpfs","entries":[{"name":"svc05","manifest":"deploy/app.manifest","line":5,"path":"/srv/app/svc05.key","proj":108}]}`)
		}
		doc := fmt.Sprintf(`{"schema":"ipckeys/scan/v1","host":{"label":%q,"hostname":%q,"machine_id":"%032x","time":"2026-11-21T20:20:00Z"},"entries":[%s],"findings":[%s],"live":{"checked":true,"source":"/proc/sysvipc"}}`,
			name, name, i, strings.Join(entries, ","), strings.Join(findings, ","))
		loaded = append(loaded, fleet.Parse(strings.NewReader(doc), "r/"+name+".json", name)...)
	}
	return fleet.Merge(loaded, fleet.Options{Now: fleetNow, FailOn: audit.Error})
}

// artifact keeps a file of a test in $IPCKEYS_ARTIFACTS (else a directory
// under the system's temp dir).
func artifact(t *testing.T, name string, data []byte) {
	t.Helper()
	dir := os.Getenv("IPCKEYS_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "ipckeys-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", out)
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
// Chromium session of the window size ("1366,768") with a profile of its
// own under dir, scripts disabled with noScript; both end with the test.
// Without Chromium the test is skipped, unless IPCKEYS_REQUIRE_ROOT_TESTS
// is set (CI), where a skip would hide it.
func startDriver(t *testing.T, dir, size string, noScript bool) *webDriver {
	t.Helper()
	chromium := lookPath("chromium", "chromium-browser", "google-chrome")
	driver := lookPath("chromedriver")
	if chromium == "" || driver == "" {
		if os.Getenv(nstest.RequireEnv) != "" {
			t.Fatalf("%s is set but chromium or chromedriver is missing (apt-get install chromium chromium-driver)", nstest.RequireEnv)
		}
		t.Skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
	}
	dir, err := os.MkdirTemp(dir, "chromium")
	if err != nil {
		t.Fatal(err)
	}
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
		"--user-data-dir=" + filepath.Join(dir, "profile"), "--window-size=" + size}
	if noScript {
		args = append(args, "--blink-settings=scriptEnabled=false")
	}
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

// exec runs a script in the page, with args, and decodes what it returns.
func (wd *webDriver) exec(script string, out any, args ...any) {
	wd.t.Helper()
	if args == nil {
		args = []any{}
	}
	wd.post("/execute/sync", map[string]any{"script": script, "args": args}, out)
}

// ready waits for the page's script to have run: its CSP lets it run.
func (wd *webDriver) ready() {
	wd.t.Helper()
	var ready string
	wd.exec(`return document.body.getAttribute("data-ready")`, &ready)
	if ready != "1" {
		wd.t.Fatalf("the page's script did not run (data-ready %q): blocked by its CSP?", ready)
	}
}

// click clicks the element a CSS selector finds, as a user does.
func (wd *webDriver) click(selector string) {
	wd.t.Helper()
	var found map[string]string
	wd.post("/element", map[string]any{"using": "css selector", "value": selector}, &found)
	for _, id := range found {
		wd.post("/element/"+id+"/click", map[string]any{}, nil)
	}
}

// cdp sends a Chrome DevTools Protocol command.
func (wd *webDriver) cdp(cmd string, params map[string]any) { wd.cdpOut(cmd, params, nil) }

func (wd *webDriver) cdpOut(cmd string, params map[string]any, out any) {
	wd.t.Helper()
	wd.post("/goog/cdp/execute", map[string]any{"cmd": cmd, "params": params}, out)
}

// screenshot keeps a screenshot of the window as an artifact.
func (wd *webDriver) screenshot(name string) {
	wd.t.Helper()
	var shot string
	wd.get("/screenshot", &shot)
	img, err := base64.StdEncoding.DecodeString(shot)
	if err != nil {
		wd.t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(img))
	if err != nil || cfg.Width < 800 || cfg.Height < 600 {
		wd.t.Fatalf("screenshot: %v, %dx%d", err, cfg.Width, cfg.Height)
	}
	artifact(wd.t, name, img)
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
