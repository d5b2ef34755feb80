package server

import (
	"bytes"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/idempotency"
)

// noStoreValue and jsonType are header values shared by every response
// (a slice of capacity one: net/http never changes it in place).
var (
	noStoreValue = []string{"no-store"}
	jsonType     = []string{"application/json"}
)

// noStore marks every response of next, success or problem, as not to be
// stored by any cache: a total is only true the moment it is sent, and an
// addition's answer belongs to one client.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Cache-Control"] = noStoreValue
		next.ServeHTTP(w, r)
	})
}

// handleAdd serves POST /sum and the legacy /test-sum-action, whose key
// parameter is keyParam. Input is fully validated before anything is looked
// up or stored; without a number the request only reads the total.
func handleAdd(d Deps, keyParam string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := decodeAdd(w, r, keyParam)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		if !in.hasNumber {
			note(r, "read", "")
			writeTotal(w, r, d)
			return
		}
		wait, preferred := preferWait(r, d.MaxWait)
		a := idemsum.Addition{Client: clientOf(r.Context()), Key: in.key, Number: in.number}
		res, err := d.Service.Add(r.Context(), a, wait)
		if preferred && res.Waited {
			w.Header().Set("Preference-Applied", "wait="+strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		}
		noteKey(r, in.key)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		if res.Replayed {
			note(r, "replayed", in.key)
		} else {
			note(r, "added", in.key)
		}
		if quoted, ok := totalForm(r, res.Body); ok {
			res.Body, res.ContentType = quoted, stringTotalType[0]
		}
		w.Header().Add("Vary", "Accept")
		idempotency.WriteRecord(w, res)
	})
}

// handleHeadAdd answers HEAD on the legacy URL, whose GET adds: a HEAD
// must not, so it is 405 (net/http would otherwise run GET's handler).
func handleHeadAdd(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, OPTIONS, POST")
		writeError(w, r, d.Logger, idemsum.Errorf(emethod, "HEAD would add; use GET or POST"))
	})
}

// handleRead serves GET /sum: the current total; it changes nothing.
func handleRead(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := decodeRead(w, r); err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		note(r, "read", "")
		writeTotal(w, r, d)
	})
}

func writeTotal(w http.ResponseWriter, r *http.Request, d Deps) {
	body, err := d.Service.Total(r.Context())
	if err != nil {
		writeError(w, r, d.Logger, readFailed(err))
		return
	}
	w.Header()["Content-Type"] = jsonType
	w.Header().Add("Vary", "Accept") // the total's form follows Accept (totalForm)
	if quoted, ok := totalForm(r, body); ok {
		body, w.Header()["Content-Type"] = quoted, stringTotalType
	}
	w.Write(body)
}

// stringTotalType is the Content-Type of a body whose total is a string.
var stringTotalType = []string{"application/json; total=string"}

// totalForm returns body, a {"total":N} body as idemsum.Body makes it,
// with N as a JSON string, {"total":"N"}, and true, when r's Accept names
// application/json with the parameter total=string (stringTotal); else
// false, and body is answered as it is. The answer's Content-Type then
// says so (stringTotalType). The form is chosen here, when the answer is
// written, from the stored record's total: what is stored and replayed
// never changes, so a replay in either form is byte for byte the first
// response in that form (docs/api.md#exact-totals-in-javascript).
func totalForm(r *http.Request, body []byte) ([]byte, bool) {
	if !stringTotal(r.Header["Accept"]) {
		return nil, false
	}
	return quoteTotal(body)
}

// stringTotal reports whether one of the Accept header values accept
// names application/json with the parameter total=string (a media range
// with q=0 does not count).
func stringTotal(accept []string) bool {
	for _, v := range accept {
		if !strings.Contains(v, ";") { // the cheap look first: no parameter
			continue
		}
		for part := range strings.SplitSeq(v, ",") {
			typ, params, err := mime.ParseMediaType(part)
			if err != nil || typ != "application/json" || !strings.EqualFold(params["total"], "string") {
				continue
			}
			if q, err := strconv.ParseFloat(params["q"], 64); err == nil && q == 0 {
				continue
			}
			return true
		}
	}
	return false
}

// quoteTotal returns body, a {"total":N} body as idemsum.Body makes it,
// with N as a JSON string: {"total":"N"} and a newline, and true; for a
// body of another form, false.
func quoteTotal(body []byte) ([]byte, bool) {
	rest, hasPrefix := bytes.CutPrefix(body, []byte(`{"total":`))
	digits, hasSuffix := bytes.CutSuffix(rest, []byte("}\n"))
	if !hasPrefix || !hasSuffix || len(digits) == 0 {
		return nil, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return nil, false
		}
	}
	b := make([]byte, 0, len(body)+2)
	b = append(b, `{"total":"`...)
	b = append(b, digits...)
	return append(b, "\"}\n"...), true
}
