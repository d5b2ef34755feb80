package e2e_test

import (
	"math/big"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
	"github.com/idemsum/idemsum/internal/testenv"
)

// TestTwoDeploymentsShareRedis runs two deployments, each with a MySQL
// database of its own and two instances, on one Redis database under one
// -redis-prefix (a staging and a production sharing a Redis, or two
// copies of one configuration), and sends the same key names to both at
// once: half of the keys with the same number in both, half with another.
// Redis is only a cache of each deployment's MySQL (docs/design.md#
// invariants, 8): every answer of each deployment must be its own MySQL's,
// each total its own numbers once, and the other deployment's records
// must neither replay nor turn a key into a 422.
func TestTwoDeploymentsShareRedis(t *testing.T) {
	t.Parallel()
	prefix := "idemsum:e2e:" + testenv.Unique() + ":"
	deps := []*harness.Cluster{
		harness.StartCluster(t, harness.Options{Instances: 2, Prefix: prefix}),
		harness.StartCluster(t, harness.Options{Instances: 2, Prefix: prefix}),
	}
	keysA := harness.NewKeys("twodeps", 300)
	keysB := make([]harness.Key, len(keysA))
	for i, k := range keysA {
		keysB[i] = harness.Key{Name: k.Name, Number: k.Number}
		if i%2 == 1 {
			keysB[i].Number = 1 + rand.Uint64N(1e12)
		}
	}
	keys := [][]harness.Key{keysA, keysB}
	var initial [2]*big.Int
	var res [2]*harness.Results
	var drivers [2]*harness.Driver
	var dones [2]<-chan struct{}
	for i, c := range deps {
		initial[i] = harness.GetTotal(t, c.Instances[0])
		res[i] = harness.NewResults()
		drivers[i] = harness.NewDriver(t, c, res[i])
		drivers[i].GiveUp = 15 * time.Second
	}
	start := time.Now()
	for i := range deps {
		dones[i] = drivers[i].Go(keys[i])
	}
	for i := range deps {
		harness.WaitDone(t, dones[i], 50*time.Second)
	}
	for i, c := range deps {
		name := string(rune('A' + i))
		t.Logf("deployment %s: %d keys × %d copies in %v: %s", name, drivers[i].Total, drivers[i].Dup, time.Since(start).Round(time.Millisecond), &drivers[i].Stats)
		harness.CheckNo5xx(t, res[i], "deployment "+name)
		if n := harness.StatusCounts(res[i])[http.StatusUnprocessableEntity]; n > 0 {
			t.Errorf("deployment %s: %d answers were 422, want none: each key was sent with one number to it", name, n)
		}
		harness.CheckAnswersAreMySQLs(t, c, res[i], nil, "deployment "+name)
		harness.CheckTotalOfAnswered(t, c, res[i], initial[i])
	}
	for i, c := range deps {
		t.Run(string(rune('A'+i)), func(t *testing.T) { harness.CheckAll(t, c, res[i], initial[i]) })
	}
}
