package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/idemsum/idemsum/auth"
)

// chromiumPath finds Debian's chromium; CI installs it, so it is required
// there (IDEMSUM_REQUIRE_SERVICES=1).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("IDEMSUM_REQUIRE_SERVICES") == "1" {
		t.Fatal("chromium is required (IDEMSUM_REQUIRE_SERVICES=1) but not installed: apt-get install chromium")
	}
	t.Skip("chromium is not installed (apt-get install chromium)")
	return ""
}

// newBrowser starts headless Chromium at chrome for t (closed when t
// ends) and returns its context, bounded to 60s.
func newBrowser(t *testing.T, chrome string) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(900, 700))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(actx)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancel(); cancelBrowser(); cancelAlloc() })
	return ctx
}

// TestBrowserPage drives the page at / in headless Chromium: it adds a
// number under a generated key, sends the same key again, and checks the
// log rows (200 added, then 200 replayed), the live total, and that the
// live charts draw and move while it adds (checkCharts). It saves a
// screenshot to testdata/screenshots/page.png (and docs/page.png with
// IDEMSUM_UPDATE_SCREENSHOT=1).
func TestBrowserPage(t *testing.T) {
	t.Parallel()
	chrome := chromiumPath(t)
	in := start(t)
	ctx := newBrowser(t, chrome)

	do := func(a chromedp.Action[chromedp.Void]) {
		t.Helper()
		if _, err := chromedp.Run(ctx, a); err != nil {
			t.Fatalf("browser: %v", err)
		}
	}
	get := func(a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatalf("browser: %v", err)
		}
		return v
	}
	wait := func(cond string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond)); err != nil {
			t.Fatalf("browser: waiting for %s: %v", cond, err)
		}
	}
	do(chromedp.Navigate(in.URL + "/"))
	do(chromedp.WaitVisible("#send"))
	wait(`document.getElementById("total").textContent === "0"`)
	do(chromedp.SetValue("#number", "42"))
	key := get(chromedp.Value("#key"))
	do(chromedp.Click("#send"))
	wait(`document.querySelectorAll("#log tr").length === 1`)
	do(chromedp.Click("#again"))
	wait(`document.querySelectorAll("#log tr").length === 2`)
	firstRow := get(chromedp.Text("#log tr:nth-child(2)"))
	secondRow := get(chromedp.Text("#log tr:nth-child(1)"))
	total := get(chromedp.Text("#total"))
	checkCharts(t, in, get, wait)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if !strings.Contains(firstRow, "200") || !strings.Contains(firstRow, "no") || !strings.Contains(firstRow, key) || !strings.Contains(firstRow, "total 42") {
		t.Errorf("first row got %q, want 200, not replayed, key %s, total 42", firstRow, key)
	}
	if !strings.Contains(secondRow, "200") || !strings.Contains(secondRow, "yes") || !strings.Contains(secondRow, "total 42") {
		t.Errorf("second row got %q, want 200, replayed, total 42", secondRow)
	}
	if total != "42" {
		t.Errorf("total got %q, want 42 (added once)", total)
	}
	dir := filepath.Join("..", "..", "testdata", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "page.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}
	saveReadmeShot(t, shot)
}

// TestBrowserPageWithToken: with -auth-tokens the page's first addition
// is refused (401, the token field gets the focus); with the client's
// token typed in, it adds and its retry replays.
func TestBrowserPageWithToken(t *testing.T) {
	t.Parallel()
	chrome := chromiumPath(t)
	token, file := tokenFile(t, "page")
	in := start(t, "-auth-tokens", file)
	ctx := newBrowser(t, chrome)
	do := func(a chromedp.Action[chromedp.Void]) {
		t.Helper()
		if _, err := chromedp.Run(ctx, a); err != nil {
			t.Fatalf("browser: %v", err)
		}
	}
	rowsAre := func(n int) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`document.querySelectorAll("#log tr").length === %d`, n))); err != nil {
			t.Fatalf("browser: waiting for %d rows: %v", n, err)
		}
	}
	do(chromedp.Navigate(in.URL + "/"))
	do(chromedp.WaitVisible("#send"))
	do(chromedp.SetValue("#number", "7"))
	do(chromedp.Click("#send"))
	rowsAre(1)
	do(chromedp.SetValue("#token", token))
	do(chromedp.Click("#send"))
	rowsAre(2)
	do(chromedp.Click("#again"))
	rowsAre(3)
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#log tr")].reverse().map(r => r.dataset.status + " " + r.dataset.replayed)`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"401 no", "200 no", "200 yes"}; !slices.Equal(rows, want) {
		t.Errorf("rows (status replayed): got %q, want %q", rows, want)
	}
	total, err := chromedp.Run(ctx, chromedp.Text("#total"))
	if err != nil {
		t.Fatal(err)
	}
	if total != "7" {
		t.Errorf("total: got %q, want 7 (added once, by the client with the token)", total)
	}
}

// tokenFile writes an -auth-tokens file holding one new token of client
// and returns the token and the file's path.
func tokenFile(t *testing.T, client string) (token, path string) {
	t.Helper()
	token, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(auth.Line(client, token)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return token, path
}
