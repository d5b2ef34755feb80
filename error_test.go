package idemsum_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/idemsum/idemsum"
)

func TestErrorCodeAndMessage(t *testing.T) {
	t.Parallel()
	internal := errors.New("dial tcp 10.0.0.7:3306: connect: connection refused")
	invalid := idemsum.Errorf(idemsum.EINVALID, "number %q is out of range", "0")
	tests := []struct {
		name     string
		err      error
		wantCode string
		wantMsg  string // "" means the generic message of an unknown outcome
	}{
		{"nil", nil, "", ""},
		{"invalid", invalid, idemsum.EINVALID, `number "0" is out of range`},
		{"wrapped", fmt.Errorf("decode: %w", invalid), idemsum.EINVALID, `number "0" is out of range`},
		{"joined", errors.Join(internal, invalid), idemsum.EINVALID, `number "0" is out of range`},
		{"a code of another layer", idemsum.Errorf("too_large", "over %d bytes", 4096), "too_large", "over 4096 bytes"},
		{"unavailable", &idemsum.Error{Code: idemsum.EUNAVAILABLE, Message: "m"}, idemsum.EUNAVAILABLE, "m"},
		{"storage failure", internal, idemsum.EUNKNOWN, ""},
		{"wrapped storage failure", fmt.Errorf("add 3: %w", internal), idemsum.EUNKNOWN, ""},
		{"storage failure that added nothing", idemsum.Unavailable(internal), idemsum.EUNAVAILABLE, idemsum.Unavailable(nil).Message},
		{"wrapped storage failure that added nothing", fmt.Errorf("add 3: %w", idemsum.Unavailable(internal)), idemsum.EUNAVAILABLE, idemsum.Unavailable(nil).Message},
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

// TestErrorMessagesSayTheOutcome checks the words that clients older than
// the problem's outcome member read in the detail: a storage failure that
// added nothing says "nothing was added" and never "outcome is unknown";
// one whose outcome is unknown says "or the outcome is unknown".
func TestErrorMessagesSayTheOutcome(t *testing.T) {
	t.Parallel()
	internal := errors.New("invalid connection")
	notAdded := idemsum.ErrorMessage(idemsum.Unavailable(internal))
	if !strings.Contains(notAdded, "nothing was added") || strings.Contains(notAdded, "outcome is unknown") || strings.Contains(notAdded, "invalid connection") {
		t.Errorf("message of Unavailable: got %q, want \"nothing was added\" without \"outcome is unknown\" or the cause", notAdded)
	}
	if unknown := idemsum.ErrorMessage(internal); !strings.Contains(unknown, "or the outcome is unknown") {
		t.Errorf("message of an unclassified error: got %q, want it to contain %q", unknown, "or the outcome is unknown")
	}
}

// TestUnavailableKeepsItsCause: the cause of an Unavailable error stays in
// its chain and its text, for logs.
func TestUnavailableKeepsItsCause(t *testing.T) {
	t.Parallel()
	cause := errors.New("dial tcp 10.0.0.7:3306: connect: connection refused")
	err := fmt.Errorf("add 1: %w", idemsum.Unavailable(cause))
	if !errors.Is(err, cause) {
		t.Errorf("errors.Is(%v, cause): got false, want true", err)
	}
	if !strings.Contains(err.Error(), cause.Error()) {
		t.Errorf("Error(): got %q, want it to contain the cause %q", err.Error(), cause.Error())
	}
	if got, want := idemsum.Unavailable(nil).Error(), "idemsum: unavailable: "+idemsum.Unavailable(nil).Message; got != want {
		t.Errorf("Error() without a cause: got %q, want %q", got, want)
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
	for _, c := range []string{idemsum.EINVALID, idemsum.EUNAVAILABLE, idemsum.EUNKNOWN} {
		if c == "" || seen[c] {
			t.Errorf("code %q: got empty or repeated, want distinct non-empty codes", c)
		}
		seen[c] = true
	}
}
