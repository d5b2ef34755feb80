package idempotencytest

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum/idempotency"
)

func recordTests() []storeTest {
	return []storeTest{
		{name: "GetUnknown", run: testGetUnknown},
		{name: "PutGet", run: testPutGet},
		{name: "NoAliasing", run: testNoAliasing},
		{name: "FirstPutWins", run: testFirstPutWins},
		{name: "ConcurrentPut", run: testConcurrentPut},
		{name: "Keys", run: testKeys},
		{name: "RecordExpires", advance: true, run: testRecordExpires},
	}
}

func testGetUnknown(t *testing.T, h Harness) {
	s := h.New(t)
	wantNotFound(t, s, "unknown")
}

func testPutGet(t *testing.T, h Harness) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	big := make([]byte, 256<<10)
	rand.Read(big)
	tests := []struct {
		name string
		rec  idempotency.Record
	}{
		{"json", idempotency.Record{Fingerprint: idempotency.Fingerprint("POST", "/sum", "5"), Status: 200, ContentType: "application/json", Body: []byte(`{"total":5}` + "\n")}},
		{"every byte", idempotency.Record{Fingerprint: "fp\x00\xff\"'\\%", Status: 201, ContentType: "application/octet-stream", Body: all}},
		{"empty", idempotency.Record{Status: 204}},
		{"created", idempotency.Record{Fingerprint: "c", Status: 201, Body: []byte("x"), Created: time.UnixMilli(1_900_000_000_123)}},
		{"large", idempotency.Record{Fingerprint: "big", Status: 422, ContentType: "text/plain; charset=utf-8", Body: big}},
		{"highest status", idempotency.Record{Fingerprint: "x", Status: 499, Body: []byte("\r\n\x00")}},
		{"headers", idempotency.Record{Fingerprint: "h", Status: 201, ContentType: "application/json", Header: http.Header{
			"Location": {"/orders/42"}, "Etag": {`"v1"`}, "Link": {"</a>; rel=a", "</b>; rel=b"}, "Vary": {""}, "Content-Disposition": {"\xff:\t;\"x\""},
		}, Body: []byte(`{"id":42}`)}},
	}
	s := h.New(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustPut(t, s, tt.name, tt.rec)
			wantRecord(t, s, tt.name, tt.rec)
		})
	}
}

func testNoAliasing(t *testing.T, h Harness) {
	s := h.New(t)
	body := []byte("original")
	mustPut(t, s, "k", idempotency.Record{Status: 200, Body: body})
	copy(body, "modified")
	got, err := s.Get(t.Context(), "k")
	wantErr(t, "Get", err, nil)
	copy(got.Body, "modified")
	wantRecord(t, s, "k", idempotency.Record{Status: 200, Body: []byte("original")})
}

func testFirstPutWins(t *testing.T, h Harness) {
	s := h.New(t)
	first := idempotency.Record{Fingerprint: "a", Status: 200, Body: []byte("first")}
	mustPut(t, s, "k", first)
	mustPut(t, s, "k", idempotency.Record{Fingerprint: "b", Status: 201, Body: []byte("second")})
	wantRecord(t, s, "k", first)
}

func testConcurrentPut(t *testing.T, h Harness) {
	s := h.New(t)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			rec := idempotency.Record{Fingerprint: fmt.Sprint(i), Status: 200, Body: []byte(fmt.Sprint(i))}
			errs <- s.Put(t.Context(), "k", rec, testTTL)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		wantErr(t, "concurrent Put", err, nil)
	}
	first, err := s.Get(t.Context(), "k")
	wantErr(t, "Get", err, nil)
	if string(first.Body) != first.Fingerprint {
		t.Fatalf("Get = %s, a mix of records", show(first))
	}
	mustPut(t, s, "k", idempotency.Record{Fingerprint: "late"})
	wantRecord(t, s, "k", first)
}

// testKeys checks that keys are exact byte strings: case matters, and
// characters special to SQL, globs or quoting are plain characters.
func testKeys(t *testing.T, h Harness) {
	s := h.New(t)
	keys := storeKeys()
	tokens := make([]string, len(keys))
	for i, k := range keys {
		tokens[i] = mustClaim(t, s, k)
	}
	for _, k := range keys {
		mustPut(t, s, k, idempotency.Record{Fingerprint: k, Status: 200, Body: []byte(k)})
	}
	for i, k := range keys {
		mustRelease(t, s, k, tokens[i])
		wantRecord(t, s, k, idempotency.Record{Fingerprint: k, Status: 200, Body: []byte(k)})
		wantInFlight(t, s, k)
	}
	wantNotFound(t, s, "b")
	wantNotFound(t, s, strings.Repeat("a", 253))
}

func storeKeys() []string {
	var visible strings.Builder
	for i := 0; visible.Len() < idempotency.MaxKeyLen; i++ {
		visible.WriteByte(byte(0x21 + i%94))
	}
	return []string{
		"a", "A", "key", "KEY", "Key", `"quoted"`, `back\slash`, `\`, `\\`, `'`, "`",
		"%", "_", "a%", "a_", "*", "?", "[ab]", "a*", "{tag}", "}", "{", "a:b", ":",
		"claim:x", "rec:x", "x", "~!@#$%^&*()_+-={}|[]:;<>?,./",
		strings.Repeat("a", 254), strings.Repeat("a", idempotency.MaxKeyLen),
		strings.Repeat("A", idempotency.MaxKeyLen), visible.String(),
	}
}

func testRecordExpires(t *testing.T, h Harness) {
	s := h.New(t)
	old := idempotency.Record{Fingerprint: "old", Status: 200, Body: []byte("old")}
	mustPut(t, s, "k", old)
	h.Advance(t, s, testTTL/2)
	wantRecord(t, s, "k", old)
	wantInFlight(t, s, "k")
	h.Advance(t, s, testTTL/2)
	wantNotFound(t, s, "k")
	token := mustClaim(t, s, "k")
	renewed := idempotency.Record{Fingerprint: "new", Status: 201, Body: []byte("new")}
	mustPut(t, s, "k", renewed)
	mustRelease(t, s, "k", token)
	wantRecord(t, s, "k", renewed)
}
