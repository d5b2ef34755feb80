package idemsum_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/idemsumtest"
)

func TestBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		total string
		want  string
	}{
		{"0", "{\"total\":0}\n"},
		{"5", "{\"total\":5}\n"},
		{"9223372036854775807", "{\"total\":9223372036854775807}\n"},
		{"340282366920938463463374607431768211456", "{\"total\":340282366920938463463374607431768211456}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.total, func(t *testing.T) {
			t.Parallel()
			got := idemsum.Body(tc.total)
			if string(got) != tc.want {
				t.Errorf("Body(%q): got %q, want %q", tc.total, got, tc.want)
			}
			var v struct{ Total json.Number }
			if err := json.Unmarshal(got, &v); err != nil || v.Total.String() != tc.total {
				t.Errorf("Body(%q) as JSON: got %q (%v), want total %s", tc.total, v.Total, err, tc.total)
			}
			if n, ok := new(big.Int).SetString(v.Total.String(), 10); !ok || n.String() != tc.total {
				t.Errorf("Body(%q) total: got %v, want the exact integer %s", tc.total, n, tc.total)
			}
		})
	}
}

func TestUnbatched(t *testing.T) {
	t.Parallel()
	errDown := errors.New("mysql down")
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		before  []idemsum.Addition // committed first, in one Ledger.Add
		err     error              // the Ledger's error
		add     idemsum.Addition
		want    idemsum.Result
		wantErr error
	}{
		{"keyless", nil, nil, idemsum.Addition{Number: 5}, idemsum.Result{Total: "5", Number: 5, Created: at}, nil},
		{"keyed", []idemsum.Addition{{Number: 7}}, nil, idemsum.Addition{Key: "k", Number: 5}, idemsum.Result{Total: "12", Number: 5, Created: at}, nil},
		{"existing", []idemsum.Addition{{Key: "k", Number: 5}, {Number: 7}}, nil, idemsum.Addition{Key: "k", Number: 6}, idemsum.Result{Total: "5", Number: 5, Existing: true, Created: at}, nil},
		{"error", nil, errDown, idemsum.Addition{Key: "k", Number: 5}, idemsum.Result{}, errDown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := &idemsumtest.Ledger{Now: func() time.Time { return at }}
			calls := 0
			if tc.before != nil {
				if _, err := l.Add(context.Background(), tc.before); err != nil {
					t.Fatalf("add %v: %v", tc.before, err)
				}
				calls++
			}
			l.SetErr(tc.err)
			got, err := idemsum.Unbatched(l).Add(context.Background(), tc.add)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error: got %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("result: got %+v, want %+v", got, tc.want)
			}
			if b := l.Batches()[calls:]; len(b) != 1 || len(b[0]) != 1 || b[0][0] != tc.add {
				t.Errorf("ledger calls: got %v, want one call with [%+v]", b, tc.add)
			}
		})
	}
}
