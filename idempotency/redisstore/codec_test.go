package redisstore_test

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"testing"

	"idemsum/idempotency"
	"idemsum/idempotency/redisstore"
)

func TestEncodeRoundTrip(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	tests := []idempotency.Record{
		{},
		{Fingerprint: "fp", Status: 200, ContentType: "application/json", Body: []byte(`{"total":1}`)},
		{Fingerprint: string(all), Status: -1, ContentType: string(all), Body: all},
		{Status: 1 << 40, Body: []byte{0}},
		{Fingerprint: "fp", Status: 201, ContentType: "application/json", Header: http.Header{"Location": {"/o/1"}, "Link": {"<a>", "<b>"}, "X-Empty": {""}}, Body: []byte("{}")},
		{Header: http.Header{string(all): {string(all)}}, Body: all},
	}
	for _, rec := range tests {
		roundTrip(t, rec)
	}
}

// TestEncodeWithoutHeaderIsVersion1 keeps records without headers (all of
// sumd's) readable by instances from before headers were stored, and
// reads what they wrote.
func TestEncodeWithoutHeaderIsVersion1(t *testing.T) {
	for _, h := range []http.Header{nil, {}, {"X-None": nil}} {
		if b := redisstore.Encode(idempotency.Record{Status: 200, Header: h}); b[0] != 1 {
			t.Errorf("Encode with header %v: version byte %d, want 1", h, b[0])
		}
	}
	old := []byte{1, 0x90, 0x03, 2, 'f', 'p', 4, 't', 'e', 'x', 't', 'h', 'i'} // written by version 1
	got, err := redisstore.Decode(old)
	if err != nil || got.Status != 200 || got.Fingerprint != "fp" || got.ContentType != "text" || string(got.Body) != "hi" || got.Header != nil {
		t.Fatalf("Decode(version 1) = %+v, %v; want fp 200 text \"hi\" without header", got, err)
	}
	if b := redisstore.Encode(idempotency.Record{Header: http.Header{"A": {"b"}}}); b[0] != 2 {
		t.Errorf("Encode with a header: version byte %d, want 2", b[0])
	}
}

func FuzzEncode(f *testing.F) {
	f.Add("fp", 200, "text/plain", "", "", []byte("body"))
	f.Add("", 0, "", "Location", "/x", []byte{})
	f.Add("\x00\xff", -7, "\x01", "\x00", "\xff", []byte{0, 1, 2, 0xff})
	f.Fuzz(func(t *testing.T, fp string, status int, ct, name, value string, body []byte) {
		rec := idempotency.Record{Fingerprint: fp, Status: status, ContentType: ct, Body: body}
		if name != "" {
			rec.Header = http.Header{name: {value, value + "2"}}
		}
		roundTrip(t, rec)
	})
}

// FuzzDecode feeds Decode arbitrary bytes: it must not panic, and what it
// accepts must encode back to a value that decodes the same.
func FuzzDecode(f *testing.F) {
	f.Add(redisstore.Encode(idempotency.Record{Fingerprint: "fp", Status: 200, ContentType: "t", Body: []byte("b")}))
	f.Add(redisstore.Encode(idempotency.Record{Status: 201, Header: http.Header{"Location": {"/x"}}, Body: []byte("{}")}))
	f.Add([]byte{2, 0, 0, 0, 4, 1, 'a', 1, 'b'})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := redisstore.Decode(b)
		if err != nil {
			return
		}
		roundTrip(t, rec)
	})
}

func roundTrip(tb testing.TB, rec idempotency.Record) {
	tb.Helper()
	got, err := redisstore.Decode(redisstore.Encode(rec))
	if err != nil {
		tb.Fatalf("Decode(Encode(%+v)): %v", rec, err)
	}
	if got.Fingerprint != rec.Fingerprint || got.Status != rec.Status || got.ContentType != rec.ContentType || !bytes.Equal(got.Body, rec.Body) || !sameHeader(got.Header, rec.Header) {
		tb.Fatalf("Decode(Encode(%+v)) = %+v", rec, got)
	}
}

func TestDecodeCorrupt(t *testing.T) {
	tests := map[string][]byte{
		"empty":             nil,
		"wrong version":     {3, 0, 0, 0},
		"v2 no header":      {2, 0, 0, 0},
		"v2 zero headers":   {2, 0, 0, 0, 0},
		"v2 header long":    {2, 0, 0, 0, 9, 1, 'a', 1, 'b'},
		"v2 value missing":  {2, 0, 0, 0, 2, 1, 'a'},
		"v2 value short":    {2, 0, 0, 0, 4, 1, 'a', 3, 'b'},
		"no status":         {1},
		"bad status varint": {1, 0x80},
		"no fingerprint":    {1, 0},
		"fingerprint short": {1, 0, 5, 'a'},
		"no content type":   {1, 0, 1, 'a'},
		"content type long": {1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := redisstore.Decode(b); !errors.Is(err, redisstore.ErrCorrupt) {
				t.Fatalf("Decode(%q): got error %v, want %v", b, err, redisstore.ErrCorrupt)
			}
		})
	}
}

// sameHeader reports whether a and b hold the same values; a name with no
// values is the same as no name.
func sameHeader(a, b http.Header) bool {
	for _, h := range [][2]http.Header{{a, b}, {b, a}} {
		for name, vs := range h[0] {
			if !slices.Equal(vs, h[1][name]) && len(vs)+len(h[1][name]) > 0 {
				return false
			}
		}
	}
	return true
}
