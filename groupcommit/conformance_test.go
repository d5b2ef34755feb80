package groupcommit_test

import (
	"testing"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/groupcommit"
	"github.com/idemsum/idemsum/idemsumtest"
	"github.com/idemsum/idemsum/mysql"
	"github.com/idemsum/idemsum/mysql/mysqltest"
)

// ledgers are the Ledgers the Adders are checked over: the in-memory one
// and the MySQL one (a database per subtest).
var ledgers = []struct {
	name string
	h    idemsumtest.Harness
}{
	{"memory", idemsumtest.Harness{New: func(*testing.T) idemsum.Ledger { return &idemsumtest.Ledger{} }}},
	{"mysql", idemsumtest.Harness{New: newMySQL}},
}

// adders are the Adders checked, each over a Ledger.
var adders = []struct {
	name string
	new  func(t *testing.T, l idemsum.Ledger) idemsum.Adder
}{
	{"groupcommit", func(t *testing.T, l idemsum.Ledger) idemsum.Adder {
		a := groupcommit.New(l, 16, 200*time.Microsecond, 2)
		t.Cleanup(a.Close)
		return a
	}},
	{"unbatched", func(_ *testing.T, l idemsum.Ledger) idemsum.Adder { return idemsum.Unbatched(l) }},
}

// TestAdderConforms runs idemsumtest's Adder suite on groupcommit.Adder and
// idemsum.Unbatched, over each Ledger.
func TestAdderConforms(t *testing.T) {
	t.Parallel()
	for _, a := range adders {
		for _, l := range ledgers {
			t.Run(a.name+"/"+l.name, func(t *testing.T) {
				t.Parallel()
				idemsumtest.TestAdder(t, l.h, a.new)
			})
		}
	}
}

// newMySQL returns a MySQL Ledger on a database of t's own.
func newMySQL(t *testing.T) idemsum.Ledger {
	t.Helper()
	return &mysql.Ledger{DB: mysqltest.DB(t)}
}
