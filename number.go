package idemsum

import (
	"strconv"
)

// MaxNumber is the largest number that can be added: 2^63-1.
const MaxNumber = 1<<63 - 1

// The rule for a number, in one place: a natural number from 1 to
// MaxNumber. ParseNumber applies it to text (the HTTP edge, the load
// generator); CheckNumber to a number at the Ledger's and the Adders'
// boundary; the schema's BIGINT UNSIGNED holds it.

// ParseNumber parses a natural number written as ASCII decimal digits (no
// sign, space, fraction or exponent) from 1 to MaxNumber. Any other text
// is an EINVALID *Error that says what is wrong.
func ParseNumber(s string) (uint64, error) {
	if s == "" {
		return 0, Errorf(EINVALID, "number is empty; want an integer from 1 to %d", uint64(MaxNumber))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, Errorf(EINVALID, "number must be ASCII decimal digits only, got %q", truncate(s))
		}
	}
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		return 0, Errorf(EINVALID, "number is out of range; want an integer from 1 to %d", uint64(MaxNumber))
	}
	return n, CheckNumber(n)
}

// CheckNumber returns an EINVALID *Error unless n is from 1 to MaxNumber.
func CheckNumber(n uint64) error {
	if n < 1 || n > MaxNumber {
		return Errorf(EINVALID, "number is out of range; want an integer from 1 to %d", uint64(MaxNumber))
	}
	return nil
}

// truncate shortens s for an error message.
func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
