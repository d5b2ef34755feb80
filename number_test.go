package idemsum_test

import (
	"math/big"
	"strconv"
	"strings"
	"testing"

	"github.com/idemsum/idemsum"
)

func TestCheckNumber(t *testing.T) {
	t.Parallel()
	for n, ok := range map[uint64]bool{0: false, 1: true, idemsum.MaxNumber: true, idemsum.MaxNumber + 1: false, 1<<64 - 1: false} {
		if err := idemsum.CheckNumber(n); (err == nil) != ok || (err != nil && idemsum.ErrorCode(err) != idemsum.EINVALID) {
			t.Errorf("CheckNumber(%d): got %v, want accepted %v (else an %s error)", n, err, ok, idemsum.EINVALID)
		}
	}
}

// FuzzParseNumber checks ParseNumber against math/big: it accepts exactly
// the ASCII decimal strings of 1..2^63-1, and what it accepts round-trips.
func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"", "0", "1", "5", "007", "9223372036854775807", "9223372036854775808", "-1", "+1", "1.0", "1e3", "0x10", " 1", "00",
		"0000000000000000000000000009223372036854775807", "18446744073709551615", "99999999999999999999", "١", "1\n", "\t1", "1 000"} {
		f.Add(s)
	}
	limit := new(big.Int).SetUint64(idemsum.MaxNumber)
	f.Fuzz(func(t *testing.T, s string) {
		n, err := idemsum.ParseNumber(s)
		v, isInt := new(big.Int).SetString(s, 10)
		wantOK := s != "" && strings.Trim(s, "0123456789") == "" && isInt && v.Sign() > 0 && v.Cmp(limit) <= 0
		if (err == nil) != wantOK {
			t.Fatalf("ParseNumber(%q): got %d, %v; want accepted %v", s, n, err, wantOK)
		}
		if err != nil {
			if code := idemsum.ErrorCode(err); code != idemsum.EINVALID {
				t.Fatalf("ParseNumber(%q) error code: got %q, want %q", s, code, idemsum.EINVALID)
			}
			return
		}
		if got, want := strconv.FormatUint(n, 10), strings.TrimLeft(s, "0"); got != want {
			t.Fatalf("ParseNumber(%q) round trip: got %q, want %q", s, got, want)
		}
	})
}
