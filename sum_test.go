package idemsum_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"testing"

	"idemsum"
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

// recordingLedger is an idemsum.Ledger that records each Add and answers
// with canned results or an error.
type recordingLedger struct {
	calls [][]idemsum.Addition
	res   []idemsum.Result
	err   error
}

func (l *recordingLedger) Add(_ context.Context, adds []idemsum.Addition) ([]idemsum.Result, error) {
	l.calls = append(l.calls, adds)
	return l.res, l.err
}

func (l *recordingLedger) Total(context.Context) (string, error) { return "0", l.err }

func TestUnbatched(t *testing.T) {
	t.Parallel()
	errDown := errors.New("mysql down")
	tests := []struct {
		name    string
		add     idemsum.Addition
		res     []idemsum.Result
		err     error
		want    idemsum.Result
		wantErr error
	}{
		{"keyless", idemsum.Addition{Number: 5}, []idemsum.Result{{Total: "5", Number: 5}}, nil, idemsum.Result{Total: "5", Number: 5}, nil},
		{"keyed", idemsum.Addition{Key: "k", Number: 5}, []idemsum.Result{{Total: "12", Number: 5}}, nil, idemsum.Result{Total: "12", Number: 5}, nil},
		{"existing", idemsum.Addition{Key: "k", Number: 6}, []idemsum.Result{{Total: "12", Number: 5, Existing: true}}, nil, idemsum.Result{Total: "12", Number: 5, Existing: true}, nil},
		{"error", idemsum.Addition{Key: "k", Number: 5}, nil, errDown, idemsum.Result{}, errDown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := &recordingLedger{res: tc.res, err: tc.err}
			got, err := idemsum.Unbatched(l).Add(context.Background(), tc.add)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error: got %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("result: got %+v, want %+v", got, tc.want)
			}
			if len(l.calls) != 1 || len(l.calls[0]) != 1 || l.calls[0][0] != tc.add {
				t.Errorf("ledger calls: got %v, want one call with [%+v]", l.calls, tc.add)
			}
		})
	}
}
