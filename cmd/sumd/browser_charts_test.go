package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// checkCharts adds numbers to in over HTTP for a few seconds, some keys
// twice, and checks that the page's charts (GET /stats every second) draw
// them and move: the additions and replays charts count them, the
// latency chart has points, Redis shows up, and the additions line
// changes from one poll to the next.
func checkCharts(t *testing.T, in *instance, get func(chromedp.Action[string]) string, wait func(string)) {
	t.Helper()
	wait(`document.getElementById("charts").dataset.end !== undefined`)
	before := get(chromedp.Evaluate[string](addedPoints))
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // about 40 additions a second, every fourth key sent twice
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(25 * time.Millisecond):
			}
			key := fmt.Sprintf("chart-%s-%d", in.Prefix, i/2*2)
			req, _ := http.NewRequest(http.MethodPost, in.URL+"/sum?number=1", nil)
			req.Header.Set("Idempotency-Key", key)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}()
	wait(`+document.getElementById("c-added").dataset.sum >= 20 && +document.getElementById("c-replayed").dataset.sum >= 5`)
	moved := get(chromedp.Evaluate[string](addedPoints))
	end1 := get(chromedp.Evaluate[string](`document.getElementById("charts").dataset.end`))
	wait(`document.getElementById("charts").dataset.end !== "` + end1 + `"`)
	again := get(chromedp.Evaluate[string](addedPoints))
	close(stop)
	<-done
	if moved == before || again == moved {
		t.Errorf("the additions chart did not move: points %q, then %q, then %q", short(before), short(moved), short(again))
	}
	if n := strings.Count(again, ","); n < 2 {
		t.Errorf("the additions chart has %d points, want a line", n)
	}
	if got := get(chromedp.Evaluate[string](`document.getElementById("c-redis").dataset.last`)); got != "up" {
		t.Errorf("Redis chart says %q, want up", got)
	}
	if got := get(chromedp.Evaluate[string](`String(document.querySelectorAll("#c-redis rect").length)`)); got == "0" {
		t.Errorf("Redis chart has no bar")
	}
	lat := get(chromedp.Evaluate[string](`document.querySelector("#c-latency .p99").getAttribute("points") || ""`))
	if lat == "" {
		t.Errorf("latency chart has no p99 line")
	}
	sum, _ := strconv.Atoi(get(chromedp.Evaluate[string](`document.getElementById("c-added").dataset.sum`)))
	t.Logf("charts: %d additions drawn over the window; p99 line %d points", sum, strings.Count(lat, ","))
}

// addedPoints is the additions line's points.
const addedPoints = `document.querySelector("#c-added polyline").getAttribute("points") || ""`

func short(s string) string {
	if len(s) > 60 {
		return "…" + s[len(s)-60:]
	}
	return s
}

// saveReadmeShot writes shot to docs/page.png, the README's picture, when
// IDEMSUM_UPDATE_SCREENSHOT=1.
func saveReadmeShot(t *testing.T, shot []byte) {
	t.Helper()
	if os.Getenv("IDEMSUM_UPDATE_SCREENSHOT") != "1" {
		return
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", "page.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}
}
