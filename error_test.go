package idemsum_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"idemsum"
)

func TestErrorCodeAndMessage(t *testing.T) {
	t.Parallel()
	internal := errors.New("dial tcp 10.0.0.7:3306: connect: connection refused")
	invalid := idemsum.Errorf(idemsum.EINVALID, "number %q is out of range", "0")
	tests := []struct {
		name     string
		err      error
		wantCode string
		wantMsg  string // "" means the generic storage message
	}{
		{"nil", nil, "", ""},
		{"invalid", invalid, idemsum.EINVALID, `number "0" is out of range`},
		{"wrapped", fmt.Errorf("decode: %w", invalid), idemsum.EINVALID, `number "0" is out of range`},
		{"joined", errors.Join(internal, invalid), idemsum.EINVALID, `number "0" is out of range`},
		{"a code of another layer", idemsum.Errorf("too_large", "over %d bytes", 4096), "too_large", "over 4096 bytes"},
		{"unavailable", &idemsum.Error{Code: idemsum.EUNAVAILABLE, Message: "m"}, idemsum.EUNAVAILABLE, "m"},
		{"storage failure", internal, idemsum.EUNAVAILABLE, ""},
		{"wrapped storage failure", fmt.Errorf("add 3: %w", internal), idemsum.EUNAVAILABLE, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := idemsum.ErrorCode(tc.err); got != tc.wantCode {
				t.Errorf("ErrorCode: got %q, want %q", got, tc.wantCode)
			}
			if tc.err == nil {
				return
			}
			got := idemsum.ErrorMessage(tc.err)
			switch {
			case tc.wantMsg != "" && got != tc.wantMsg:
				t.Errorf("ErrorMessage: got %q, want %q", got, tc.wantMsg)
			case tc.wantMsg == "" && (got == "" || strings.Contains(got, "10.0.0.7") || strings.Contains(got, "dial")):
				t.Errorf("ErrorMessage: got %q, want a generic message without internal detail", got)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	t.Parallel()
	err := idemsum.Errorf(idemsum.EINVALID, "bad %s", "key")
	if got, want := err.Error(), "idemsum: invalid: bad key"; got != want {
		t.Errorf("Error(): got %q, want %q", got, want)
	}
	var e *idemsum.Error
	if !errors.As(fmt.Errorf("x: %w", err), &e) || e.Code != idemsum.EINVALID || e.Message != "bad key" {
		t.Errorf("errors.As: got %+v, want Code %q Message %q", e, idemsum.EINVALID, "bad key")
	}
}

func TestErrorCodesDistinct(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, c := range []string{idemsum.EINVALID, idemsum.EUNAVAILABLE} {
		if c == "" || seen[c] {
			t.Errorf("code %q: got empty or repeated, want distinct non-empty codes", c)
		}
		seen[c] = true
	}
}
