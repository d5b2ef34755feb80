package redisstore_test

import (
	"bytes"
	"errors"
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
	}
	for _, rec := range tests {
		roundTrip(t, rec)
	}
}

func FuzzEncode(f *testing.F) {
	f.Add("fp", 200, "text/plain", []byte("body"))
	f.Add("", 0, "", []byte{})
	f.Add("\x00\xff", -7, "\x01", []byte{0, 1, 2, 0xff})
	f.Fuzz(func(t *testing.T, fp string, status int, ct string, body []byte) {
		roundTrip(t, idempotency.Record{Fingerprint: fp, Status: status, ContentType: ct, Body: body})
	})
}

func roundTrip(tb testing.TB, rec idempotency.Record) {
	tb.Helper()
	got, err := redisstore.Decode(redisstore.Encode(rec))
	if err != nil {
		tb.Fatalf("Decode(Encode(%+v)): %v", rec, err)
	}
	if got.Fingerprint != rec.Fingerprint || got.Status != rec.Status || got.ContentType != rec.ContentType || !bytes.Equal(got.Body, rec.Body) {
		tb.Fatalf("Decode(Encode(%+v)) = %+v", rec, got)
	}
}

func TestDecodeCorrupt(t *testing.T) {
	tests := map[string][]byte{
		"empty":             nil,
		"wrong version":     {2, 0, 0, 0},
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
