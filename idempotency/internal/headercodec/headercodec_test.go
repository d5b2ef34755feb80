package headercodec_test

import (
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/idemsum/idemsum/idempotency/internal/headercodec"
)

func TestHeaderRoundTrip(t *testing.T) {
	tests := []http.Header{
		{"Location": {"/o/1"}},
		{"Link": {"<a>", "<b>"}, "X-Empty": {""}, "X-Bytes": {"\x00\xff:\r\n"}},
	}
	for _, h := range tests {
		got, err := headercodec.Decode(headercodec.Append(nil, h))
		if err != nil || len(got) != len(h) {
			t.Fatalf("Decode(Append(%q)) = %q, %v", h, got, err)
		}
		for name, vs := range h {
			if !slices.Equal(got[name], vs) {
				t.Errorf("%s: got %q, want %q", name, got[name], vs)
			}
		}
	}
	for _, h := range []http.Header{nil, {}, {"X-None": nil}} {
		if b := headercodec.Append(nil, h); len(b) != 0 {
			t.Errorf("Append(%q) = %q, want nothing", h, b)
		}
	}
	if got, err := headercodec.Decode(nil); got != nil || err != nil {
		t.Errorf("Decode(nil) = %q, %v; want nil, nil", got, err)
	}
}

func TestDecodeHeaderCorrupt(t *testing.T) {
	for name, b := range map[string][]byte{
		"name too long": {5, 'a'},
		"no value":      {1, 'a'},
		"value short":   {1, 'a', 3, 'b'},
		"bad varint":    {0x80},
	} {
		if _, err := headercodec.Decode(b); !errors.Is(err, headercodec.ErrCorrupt) {
			t.Errorf("%s: Decode(%q): got %v, want %v", name, b, err, headercodec.ErrCorrupt)
		}
	}
}
