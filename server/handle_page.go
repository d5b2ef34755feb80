package server

import (
	_ "embed"
	"net/http"
)

//go:embed web/index.html
var indexHTML []byte

// handlePage serves the small web page at /: the live total, a form that
// adds a number under a generated key, a button that sends the same key
// again, a log of the answers, and live charts of this instance (fed by
// GET /stats, drawn as inline SVG). Everything is inline; nothing is
// loaded from the network. The page may not be framed (against
// clickjacking its buttons) nor sniffed as another type.
func handlePage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'")
		h.Set("Cache-Control", "no-cache")
		w.Write(indexHTML)
	})
}
