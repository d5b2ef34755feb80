package ledgercache

import (
	"bytes"
	"net/http"
	"strconv"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/idempotency"
)

// Fingerprint identifies the request "add n": a key reused with another
// number is a mismatch.
func Fingerprint(n uint64) string {
	return idempotency.Fingerprint("add", strconv.FormatUint(n, 10))
}

// Record is the response to an addition whose result is r, as the toolkit
// stores it: the fingerprint of r.Number, 200 and the body
// idemsum.Body(r.Total).
func Record(r idemsum.Result) idempotency.Record { return RecordWith(r, Fingerprint(r.Number)) }

// RecordWith is Record for a caller that has fp, Fingerprint(r.Number),
// already: the request's path computes it once.
func RecordWith(r idemsum.Result, fp string) idempotency.Record {
	return idempotency.Record{
		Fingerprint: fp,
		Status:      http.StatusOK,
		ContentType: "application/json",
		Body:        idemsum.Body(r.Total),
		Created:     r.Created,
	}
}

// resultOf returns the Existing result that rec records for the addition
// a: ok is false unless rec is exactly Record of such a result for a's
// number, so that anything else (another number, another shape) is left
// to the ledger.
func resultOf(a idemsum.Addition, rec idempotency.Record) (idemsum.Result, bool) {
	if rec.Fingerprint != Fingerprint(a.Number) || rec.Status != http.StatusOK ||
		rec.ContentType != "application/json" || len(rec.Header) != 0 || rec.Created.IsZero() {
		return idemsum.Result{}, false
	}
	total, ok := bytes.CutPrefix(rec.Body, []byte(`{"total":`))
	if ok {
		total, ok = bytes.CutSuffix(total, []byte("}\n"))
	}
	if !ok || !digits(total) {
		return idemsum.Result{}, false
	}
	return idemsum.Result{Total: string(total), Existing: true, Number: a.Number, Created: rec.Created}, true
}

// digits reports a decimal integer without sign or leading zero.
func digits(b []byte) bool {
	if len(b) == 0 || (b[0] == '0' && len(b) > 1) {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ttlOf returns how much longer after now the key of a record created at
// created is remembered: until created plus ttl, never longer than ttl.
func ttlOf(created, now time.Time, ttl time.Duration) time.Duration {
	return min(ttl, created.Add(ttl).Sub(now))
}
