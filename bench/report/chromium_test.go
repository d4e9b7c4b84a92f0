package report

import (
	"bytes"
	"context"
	"flag"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// screenshotOut, when set, is where TestChromium also saves its screenshot
// (docs/img/report.png is made with
// `go test ./bench/report -run TestChromium -screenshot-out $PWD/docs/img/report.png`).
var screenshotOut = flag.String("screenshot-out", "", "also save TestChromium's screenshot of the fixture report to this PNG file")

// chromium finds Debian's chromium (make test installs it when missing).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed (make test installs it with apt): the real-browser test of the HTML report is skipped")
	return ""
}

// runChromium runs headless chromium with args and a one-minute limit,
// with its own profile folder, and returns stdout and stderr.
func runChromium(t *testing.T, bin string, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := []string{"--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, lastLines(stderr.String(), 20))
	}
	return stdout.String(), stderr.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestChromium renders the fixture report in a real browser: the DOM
// chromium builds holds every chart with its marks, the page's script ran
// without error and found every chart as announced (body data-ok="1"),
// and a screenshot is a plausible PNG.
func TestChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "index.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := HTML(f, fixture(t)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	url := "file://" + page

	shot := filepath.Join(dir, "report.png")
	dom, logs := runChromium(t, bin, "--hide-scrollbars", "--window-size=1400,1500", "--screenshot="+shot, "--dump-dom", url)
	if strings.Contains(logs, "Uncaught") {
		t.Errorf("script errors in the page:\n%s", lastLines(logs, 20))
	}
	root := parseHTML(t, dom)
	bodies := root.all(byName("body"))
	if len(bodies) != 1 {
		t.Fatalf("chromium's DOM has %d bodies", len(bodies))
	}
	body := bodies[0]
	if body.Attr["data-ok"] != "1" || body.Attr["data-charts"] != strconv.Itoa(len(fixtureMarks)) {
		t.Errorf("the page's script reports data-ok=%q data-charts=%q, want 1 and %d (every chart drew its marks)",
			body.Attr["data-ok"], body.Attr["data-charts"], len(fixtureMarks))
	}
	checkCharts(t, root, fixtureMarks)

	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	// A blank page compresses to a few kB; the charts and tables do not.
	if cfg.Width != 1400 || cfg.Height != 1500 || len(b) < 50<<10 {
		t.Errorf("screenshot %d×%d, %d bytes: want 1400×1500 and more than 50 kB", cfg.Width, cfg.Height, len(b))
	}
	if *screenshotOut != "" {
		if err := os.WriteFile(*screenshotOut, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot saved to %s (%d bytes)", *screenshotOut, len(b))
	}
}
