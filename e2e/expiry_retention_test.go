package e2e_test

import (
	"context"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
)

// TestKeyRetention checks -key-ttl end to end: a completed key replays
// within its TTL; after it (and the purge's margin of twice
// -max-clock-skew) both its Redis record and its MySQL row are gone, the
// total is untouched, and the key adds again as a new key.
func TestKeyRetention(t *testing.T) {
	t.Parallel()
	const ttl = 5 * time.Second
	s := harness.StartScenario(t, harness.Options{Instances: 2, Args: []string{"-key-ttl", ttl.String(), "-purge-interval", "200ms", "-max-clock-skew", "250ms"}})
	c := s.C
	keys := harness.NewKeys("retention", 50)
	s.Run(keys, 60*time.Second)
	checkReplaysWithinTTL(t, c, s.Res, keys[:10], ttl)
	added := harness.GetTotal(t, c.Instances[0])
	s.Check()

	ttls, err := harness.ScanTTLs(t.Context(), c.Redis, c.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	for k, got := range ttls {
		if got <= 0 || got > ttl {
			t.Errorf("Redis key %q: PTTL %v, want in (0, %v]", k, got, ttl)
		}
	}

	var rows, redisKeys int
	gone := harness.WaitFor(t.Context(), ttl+10*time.Second, func() bool {
		c.DB.QueryRow("SELECT COUNT(*) FROM sum_ledger").Scan(&rows)
		ttls, _ := harness.ScanTTLs(context.Background(), c.Redis, c.Prefix)
		redisKeys = len(ttls)
		return rows == 0 && redisKeys == 0
	})
	if !gone {
		t.Fatalf("%v after the key TTL of %v: %d ledger rows and %d Redis keys left, want none", 10*time.Second, ttl, rows, redisKeys)
	}
	if got := harness.GetTotal(t, c.Instances[1]); got.Cmp(added) != 0 {
		t.Errorf("after the purge: total %v, want %v (the purge never touches the total)", got, added)
	}
	k := keys[0]
	resp, err := harness.SendOne(t.Context(), harness.Client, c.Instances[1], k)
	want := new(big.Int).Add(added, new(big.Int).SetUint64(k.Number))
	if err != nil || resp.Status != http.StatusOK || resp.Replayed || strings.TrimSpace(string(resp.Body)) != fmt.Sprintf(`{"total":%v}`, want) {
		t.Errorf("key %s after its TTL: got %v %+v, want a new addition with total %v", k.Name, err, resp, want)
	}
}

// checkReplaysWithinTTL sends keys again, each of which res shows added,
// and fails t unless each is replayed. It sends a key only within half of
// ttl from its first attempt (its TTL starts at its commit, later), so
// that the answer surely comes within the TTL: a key sent after it would
// rightly be added again, which the rest of the test does not expect. On
// a machine so slow that none could be sent in time it fails t: nothing
// was checked.
func checkReplaysWithinTTL(t testing.TB, c *harness.Cluster, res *harness.Results, keys []harness.Key, ttl time.Duration) {
	t.Helper()
	first := map[string]time.Time{}
	res.Each(func(ks *harness.KeyState) {
		for _, s := range ks.Sends {
			for _, a := range s.Attempts {
				if f, ok := first[ks.Name]; !ok || a.Start.Before(f) {
					first[ks.Name] = a.Start
				}
			}
		}
	})
	checked := 0
	for i, k := range keys {
		if !time.Now().Before(first[k.Name].Add(ttl / 2)) {
			continue
		}
		resp, err := harness.SendOne(t.Context(), harness.Client, c.Instances[i%2], k)
		checked++
		if err != nil || resp.Status != http.StatusOK || !resp.Replayed {
			t.Errorf("key %s within its TTL: got %v %+v, want a replay", k.Name, err, resp)
		}
	}
	if checked == 0 {
		t.Errorf("none of %d keys could be sent again within the key TTL of %v: nothing checked", len(keys), ttl)
	}
}
