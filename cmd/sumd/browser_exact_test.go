package main

import (
	"math/big"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserExactTotal: with a total above 2^64 (far above JavaScript's
// 2^53), the page shows it and each addition's answer exactly: it asks
// for the total as a string (Accept: application/json; total=string),
// where JSON.parse of the number form in the same browser rounds it.
func TestBrowserExactTotal(t *testing.T) {
	t.Parallel()
	chrome := chromiumPath(t)
	in := start(t)
	total := new(big.Int)
	for range 3 {
		resp, err := http.Post(in.URL+"/sum?number=9223372036854775807", "", nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /sum: %v %v", resp, err)
		}
		resp.Body.Close()
		total.Add(total, big.NewInt(9223372036854775807))
	}
	ctx := newBrowser(t, chrome)
	run := func(a chromedp.Action[chromedp.Void]) {
		t.Helper()
		if _, err := chromedp.Run(ctx, a); err != nil {
			t.Fatalf("browser: %v", err)
		}
	}
	wait := func(cond string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond)); err != nil {
			t.Fatalf("browser: waiting for %s: %v", cond, err)
		}
	}
	run(chromedp.Navigate(in.URL + "/"))
	run(chromedp.WaitVisible("#send"))
	wait(`document.getElementById("total").textContent === "` + total.String() + `"`)

	const number = "9007199254740993" // 2^53 + 1
	n, _ := new(big.Int).SetString(number, 10)
	total.Add(total, n)
	run(chromedp.SetValue("#number", number))
	run(chromedp.Click("#send"))
	wait(`document.querySelectorAll("#log tr").length === 1`)
	row, err := chromedp.Run(ctx, chromedp.Text("#log tr:nth-child(1)"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(row, "total "+total.String()) {
		t.Errorf("the addition's row: got %q, want total %s", row, total)
	}
	wait(`document.getElementById("total").textContent === "` + total.String() + `"`)

	rounded, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch("/sum").then(r => r.json()).then(b => String(b.total))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if rounded == total.String() {
		t.Errorf("JSON.parse of the number form gave the exact total %s: the test shows nothing", rounded)
	}
}
