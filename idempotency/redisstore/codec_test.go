package redisstore_test

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/redisstore"
)

var (
	secret   = []byte("0123456789abcdef0123456789abcdef")
	deadline = time.UnixMilli(1_900_000_000_000)
)

func TestEncodeRoundTrip(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	tests := []idempotency.Record{
		{},
		{Fingerprint: "fp", Status: 200, ContentType: "application/json", Body: []byte(`{"total":1}`), Created: time.UnixMilli(1_800_000_000_001)},
		{Fingerprint: string(all), Status: -1, ContentType: string(all), Body: all},
		{Status: 1 << 40, Body: []byte{0}},
		{Fingerprint: "fp", Status: 201, ContentType: "application/json", Header: http.Header{"Location": {"/o/1"}, "Link": {"<a>", "<b>"}, "X-Empty": {""}}, Body: []byte("{}")},
		{Header: http.Header{string(all): {string(all)}}, Body: all},
	}
	for _, rec := range tests {
		roundTrip(t, "k", rec, secret)
		roundTrip(t, string(all), rec, nil)
	}
}

// TestDecodeRefusesWhatEncodeDidNotWrite: a value is bound to its key and
// secret, and any change to it is seen.
func TestDecodeRefusesWhatEncodeDidNotWrite(t *testing.T) {
	rec := idempotency.Record{Fingerprint: "fp", Status: 200, ContentType: "application/json", Body: []byte(`{"total":5}` + "\n")}
	b := redisstore.Encode("k", rec, deadline, secret)
	if _, _, err := redisstore.Decode("k", b, secret); err != nil {
		t.Fatalf("Decode of a genuine value: %v", err)
	}
	forged := bytes.Replace(b, []byte(`"total":5`), []byte(`"total":9`), 1)
	tests := map[string]struct {
		key    string
		b      []byte
		secret []byte
	}{
		"another key":        {"k2", b, secret},
		"another secret":     {"k", b, []byte("another deployment's secret.....")},
		"no secret":          {"k", b, nil},
		"another total":      {"k", forged, secret},
		"last byte flipped":  {"k", flip(b, len(b)-1), secret},
		"status byte":        {"k", flip(b, 3), secret},
		"truncated":          {"k", b[:len(b)-1], secret},
		"empty":              {"k", nil, secret},
		"version 1 (old)":    {"k", []byte{1, 0x90, 0x03, 2, 'f', 'p', 4, 't', 'e', 'x', 't', 'h', 'i'}, secret},
		"re-signed with nil": {"k", redisstore.Encode("k", rec, deadline, nil), secret},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, _, err := redisstore.Decode(tc.key, tc.b, tc.secret); !errors.Is(err, redisstore.ErrCorrupt) {
				t.Fatalf("Decode: got error %v, want %v", err, redisstore.ErrCorrupt)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := slices.Clone(b)
	c[i] ^= 0x01
	return c
}

func FuzzEncode(f *testing.F) {
	f.Add("k", "fp", 200, "text/plain", "", "", []byte("body"))
	f.Add("", "", 0, "", "Location", "/x", []byte{})
	f.Add("\x00", "\x00\xff", -7, "\x01", "\x00", "\xff", []byte{0, 1, 2, 0xff})
	f.Fuzz(func(t *testing.T, key, fp string, status int, ct, name, value string, body []byte) {
		rec := idempotency.Record{Fingerprint: fp, Status: status, ContentType: ct, Body: body}
		if name != "" {
			rec.Header = http.Header{name: {value, value + "2"}}
		}
		roundTrip(t, key, rec, secret)
	})
}

// FuzzDecode feeds Decode arbitrary bytes: it must not panic, and what it
// accepts must be what Encode wrote.
func FuzzDecode(f *testing.F) {
	f.Add(redisstore.Encode("k", idempotency.Record{Fingerprint: "fp", Status: 200, ContentType: "t", Body: []byte("b")}, deadline, secret))
	f.Add(redisstore.Encode("k", idempotency.Record{Status: 201, Header: http.Header{"Location": {"/x"}}, Body: []byte("{}")}, deadline, secret))
	f.Add([]byte{3, 0, 0, 0, 4, 1, 'a', 1, 'b'})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, dl, err := redisstore.Decode("k", b, secret)
		if err != nil {
			return
		}
		if got := redisstore.Encode("k", rec, dl, secret); !bytes.Equal(got, b) {
			t.Fatalf("Decode accepted %q, which Encode writes as %q", b, got)
		}
	})
}

func roundTrip(tb testing.TB, key string, rec idempotency.Record, secret []byte) {
	tb.Helper()
	got, dl, err := redisstore.Decode(key, redisstore.Encode(key, rec, deadline, secret), secret)
	if err != nil {
		tb.Fatalf("Decode(Encode(%+v)): %v", rec, err)
	}
	if !dl.Equal(deadline) || !got.Created.Equal(rec.Created) {
		tb.Fatalf("Decode(Encode(%+v)): deadline %v created %v, want %v and %v", rec, dl, got.Created, deadline, rec.Created)
	}
	if got.Fingerprint != rec.Fingerprint || got.Status != rec.Status || got.ContentType != rec.ContentType || !bytes.Equal(got.Body, rec.Body) || !sameHeader(got.Header, rec.Header) {
		tb.Fatalf("Decode(Encode(%+v)) = %+v", rec, got)
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
