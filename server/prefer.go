package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// preferWait returns the wait asked for with RFC 7240 "Prefer: wait=S"
// (S in seconds), capped at maxWait, and whether one was asked for. Other
// preferences, and malformed ones, are ignored, as RFC 7240 requires.
func preferWait(r *http.Request, maxWait time.Duration) (time.Duration, bool) {
	for _, header := range r.Header.Values("Prefer") {
		for _, pref := range strings.Split(header, ",") {
			pref, _, _ = strings.Cut(pref, ";")
			name, value, ok := strings.Cut(strings.TrimSpace(pref), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(name), "wait") {
				continue
			}
			secs, err := strconv.ParseUint(strings.Trim(strings.TrimSpace(value), `"`), 10, 31)
			if err != nil {
				continue
			}
			return min(time.Duration(secs)*time.Second, maxWait), true
		}
	}
	return 0, false
}
