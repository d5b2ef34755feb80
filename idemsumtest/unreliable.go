package idemsumtest

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/idemsum/idemsum"
)

// errUnreliable is what unreliable answers when it fails.
var errUnreliable = errors.New("idemsumtest: connection lost")

// unreliable is a Ledger over l whose Adds fail in turn: the first before
// reaching l (code idemsum.EUNAVAILABLE: nothing added), the second after
// l committed (the reply lost: the outcome unknown), the third not at all.
type unreliable struct {
	l idemsum.Ledger
	n atomic.Int64
}

func (u *unreliable) Add(ctx context.Context, adds []idemsum.Addition) ([]idemsum.Result, error) {
	switch u.n.Add(1) % 3 {
	case 1:
		return nil, idemsum.Unavailable(errUnreliable)
	case 2:
		if _, err := u.l.Add(ctx, adds); err != nil {
			return nil, err
		}
		return nil, errUnreliable
	}
	return u.l.Add(ctx, adds)
}

func (u *unreliable) Total(ctx context.Context) (string, error) { return u.l.Total(ctx) }
