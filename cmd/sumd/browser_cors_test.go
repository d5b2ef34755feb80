package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// fetched is what sendTwice reports of one fetch in the page.
type fetched struct {
	Status    int    `json:"status"`
	Body      string `json:"body"`
	Replayed  string `json:"replayed"`  // Idempotent-Replayed, if the page may read it
	Challenge string `json:"challenge"` // WWW-Authenticate, if the page may read it
	Error     string `json:"error"`     // the exception, when fetch failed
}

// sendFetch is a page script: (sumd, token, key, times) POSTs {"number":5}
// as JSON to sumd's /sum with the key and the bearer token, times times
// in a row, and resolves to what each got ([]fetched).
const sendFetch = `async (sumd, token, key, times) => {
  const out = [];
  for (let i = 0; i < times; i++) {
    try {
      const r = await fetch(sumd + "/sum", {method: "POST", body: JSON.stringify({number: 5}),
        headers: {"Content-Type": "application/json", "Idempotency-Key": key, "Authorization": "Bearer " + token}});
      out.push({status: r.status, body: await r.text(), replayed: r.headers.get("Idempotent-Replayed") || "",
        challenge: r.headers.get("WWW-Authenticate") || "", error: ""});
    } catch (e) {
      out.push({status: 0, body: "", replayed: "", challenge: "", error: e.name + ": " + e.message});
    }
  }
  return out;
}`

// loadImage is a page script: (src) resolves to "load" or "error" once
// an <img> of src has loaded or failed.
const loadImage = `(src) => new Promise(done => {
  const img = new Image();
  img.onload = () => done("load");
  img.onerror = () => done("error");
  img.src = src;
})`

// call returns the JS expression that calls the function script with args.
func call(t *testing.T, script string, args ...any) string {
	t.Helper()
	js, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	return "(" + script + ")(..." + string(js) + ")"
}

// pageServer serves an empty HTML page on its own origin (another port of
// 127.0.0.1: a different origin than sumd's).
func pageServer(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>another origin</title>")
	}))
	t.Cleanup(s.Close)
	return s
}

// TestBrowserCrossOrigin: a page on an origin in -allowed-origins adds
// with fetch (JSON, Idempotency-Key, Authorization: a preflighted request)
// once, its retry is a replay whose Idempotent-Replayed the page can read,
// and a refused token's 401 is readable too. The same fetch from an origin
// not listed fails in the page (TypeError: the preflight is refused) and
// adds nothing; nor does an <img> of the legacy URL from it, on a sumd
// without tokens, where only the cross-origin rule stands in the way.
func TestBrowserCrossOrigin(t *testing.T) {
	t.Parallel()
	chrome := chromiumPath(t)
	app, other := pageServer(t), pageServer(t)
	token, file := tokenFile(t, "app")
	in := start(t, "-auth-tokens", file, "-allowed-origins", app.URL)
	noTokens := start(t, "-allowed-origins", app.URL)
	ctx := newBrowser(t, chrome)
	send := func(page, tok, key string, times int) []fetched {
		t.Helper()
		inBrowser(t, ctx, chromedp.Navigate(page))
		return inBrowser(t, ctx, chromedp.Evaluate[[]fetched](call(t, sendFetch, in.URL, tok, key, times), chromedp.EvalAwaitPromise))
	}

	got := send(app.URL, token, "cors-1", 2)
	if got[0].Status != http.StatusOK || got[0].Replayed != "" || got[1].Status != http.StatusOK || got[1].Replayed != "true" {
		t.Errorf("listed origin, a key twice: got %+v, want 200 added, then 200 with Idempotent-Replayed: true readable", got)
	}
	if bad := send(app.URL, "wrong", "cors-2", 1)[0]; bad.Status != http.StatusUnauthorized || !strings.HasPrefix(bad.Challenge, "Bearer") {
		t.Errorf("listed origin, a bad token: got %+v, want a readable 401 with its WWW-Authenticate", bad)
	}
	if refused := send(other.URL, token, "cors-3", 1)[0]; !strings.HasPrefix(refused.Error, "TypeError") {
		t.Errorf("origin not listed: got %+v, want fetch to fail with a TypeError", refused)
	}
	if total := totalOf(t, in.URL, token); total != "5" {
		t.Errorf("total: got %s, want 5 (added once, by the listed origin)", total)
	}
	wantMetric(t, in, "idemsum_auth_denied_total{reason=\"cross_origin\"} 1\n") // the refused preflight

	img := noTokens.URL + "/test-sum-action?ikey=cors-img&number=7"
	inBrowser(t, ctx, chromedp.Navigate(other.URL))
	if loaded := inBrowser(t, ctx, chromedp.Evaluate[string](call(t, loadImage, img), chromedp.EvalAwaitPromise)); loaded != "error" {
		t.Errorf("<img> of the legacy URL: got %q, want error (a 403 problem)", loaded)
	}
	if total := totalOf(t, noTokens.URL, ""); total != "0" {
		t.Errorf("total after an <img> from an origin not listed: got %s, want 0", total)
	}
	wantMetric(t, noTokens, "idemsum_auth_denied_total{reason=\"cross_origin\"} 1\n") // it reached sumd
}

// inBrowser runs a in the browser of ctx and returns its value, or fails t.
func inBrowser[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// totalOf reads the total of the sumd at url through Go, with token if
// not empty.
func totalOf(t *testing.T, url, token string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/sum", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		Total json.Number `json:"total"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /sum: %d %v", resp.StatusCode, err)
	}
	return v.Total.String()
}
