package e2e_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemsum/idemsum/e2e/harness"
	"github.com/idemsum/idemsum/idempotency/redisstore"
)

// learnNamespace sends k to sumd0, then finds its record in Redis and
// returns the part of the record's name before its hash tag and "rec:":
// the namespace (the redisstore prefix) of every key of the Cluster's
// deployment.
func learnNamespace(t testing.TB, c *harness.Cluster, res *harness.Results, k harness.Key) string {
	t.Helper()
	resp, err := harness.SendOne(t.Context(), harness.Client, c.Instances[0], k)
	if err != nil {
		t.Fatalf("first key %s: %v", k.Name, err)
	}
	harness.Want200(t, res, k, 0, "the first key "+k.Name, resp, false)
	ns, found := "", ""
	harness.Await(t, 5*time.Second, fmt.Sprintf("a Redis record %s*rec:%s after its 200", c.Prefix, k.Name), func() bool {
		names, err := harness.ScanNames(t.Context(), c.Redis, c.Prefix)
		for _, n := range names {
			if err == nil && n.Kind == "rec" && n.Key == k.Name {
				ns, found = n.NS, n.Name
			}
		}
		return ns != ""
	})
	ns = ns[:max(0, strings.LastIndex(ns, "{"))] // before the key's own hash tag
	if want := redisstore.RecordName(ns, k.Name); found != want {
		t.Fatalf("the record of %s is at %q, want redisstore's layout %q", k.Name, found, want)
	}
	return ns
}

// fingerprintAdd is the fingerprint of the request "add n" (idemsum.
// Fingerprint), computed the way anyone who read the source can: SHA-256
// over "add" and the decimal number, each after its length.
func fingerprintAdd(n uint64) string {
	h := sha256.New()
	for _, p := range []string{"add", strconv.FormatUint(n, 10)} {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(p))))
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// forgeRecord returns a record in redisstore's format of version 1 (a
// version byte, the status, the fingerprint and the content type, then
// the body) that replays body to the request "add number": all it takes
// is write access to Redis, no secret.
func forgeRecord(number uint64, body string) []byte {
	b := binary.AppendVarint([]byte{1}, http.StatusOK)
	for _, s := range []string{fingerprintAdd(number), "application/json"} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return append(b, body...)
}

// The kinds of Redis content that TestRedisTamper writes. A "genuine"
// kind changes a record that sumd wrote; the others write at the names of
// any key, one sent already or one not sent yet.
const (
	tUndecodable = "undecodable record"
	tTypeClaim   = "wrong type (hash/list) at a claim"
	tTypeRecord  = "wrong type (hash/list) at a record"
	tHuge        = "1 MiB value"
	tNoTTLClaim  = "claim without TTL"
	tLongClaim   = "claim with a 1h TTL"
	tPersist     = "PERSIST of a live claim"
	tForged      = `forged record {"total":123}`
	tOtherTotal  = "genuine record, another total"
	tCopied      = "record copied from another key"
	tFlipped     = "genuine record, last byte flipped"
)

// quietKinds are the tampers on which no Redis command of sumd fails, so
// that sumd does not take Redis for down and bypass it: well-typed values
// of the right format, and a wrong type at a claim, which sumd's claim
// (SET NX) does not read. tamperKinds are all of them. tamperLimits bound
// the costly or key-blocking ones per phase.
var (
	quietKinds   = []string{tNoTTLClaim, tLongClaim, tTypeClaim, tPersist, tForged, tOtherTotal, tCopied, tFlipped}
	tamperKinds  = append([]string{tUndecodable, tTypeRecord, tHuge}, quietKinds...)
	tamperLimits = map[string]int{tHuge: 8, tNoTTLClaim: 12, tLongClaim: 6, tTypeClaim: 12}
)

// hugeValue is the 1 MiB value, undecodable as a record.
var hugeValue = bytes.Repeat([]byte{0xff, 0x00, 0x17, 0x42}, 1<<18)

// tamperer writes hostile content into one deployment's Redis keys.
type tamperer struct {
	rdb    *redis.Client
	prefix string
	ns     string // where sumd keeps the keys: learnNamespace
	byName map[string]harness.Key
	names  []harness.RedisName // the last SCAN
	scope  map[string]bool     // the keys of the phase, which loop tampers with
	// inflight returns the keys being sent now, whose claims are live.
	inflight func() []harness.Key

	// claimed are the keys whose claim was tampered with: each gets one
	// such tamper at most, since a writer that keeps forging a key's claim
	// blocks the key for as long as it keeps at it, whatever sumd does.
	claimed map[string]bool

	counts map[string]int      // tampers written in the phase, by kind
	errs   int                 // Redis errors of the tamperer (a GET of a hash, ...)
	hits   map[string][]string // kinds written at each key
}

func newTamperer(rdb *redis.Client, prefix, ns string, keys []harness.Key) *tamperer {
	tc := &tamperer{rdb: rdb, prefix: prefix, ns: ns, byName: map[string]harness.Key{},
		claimed: map[string]bool{}, counts: map[string]int{}, hits: map[string][]string{}}
	for _, k := range keys {
		tc.byName[k.Name] = k
	}
	return tc
}

func (tc *tamperer) name(kind, key string) string {
	if kind == "claim" {
		return redisstore.ClaimName(tc.ns, key)
	}
	return redisstore.RecordName(tc.ns, key)
}

// scan refreshes tc.names.
func (tc *tamperer) scan(ctx context.Context) {
	if names, err := harness.ScanNames(ctx, tc.rdb, tc.prefix); err == nil {
		tc.names = names
	}
}

// existing returns a random key of the last SCAN of kind ("" for any),
// or for kind "claim" a claim of a key whose claim was not tampered with.
func (tc *tamperer) existing(kind string) (harness.RedisName, bool) {
	var ns []harness.RedisName
	for _, n := range tc.names {
		if tc.scope[n.Key] && (kind == "" || n.Kind == kind) && (kind != "claim" || !tc.claimed[n.Key]) {
			ns = append(ns, n)
		}
	}
	if len(ns) == 0 {
		return harness.RedisName{}, false
	}
	return ns[rand.IntN(len(ns))], true
}

// tamper writes kind at key k (or, for the genuine kinds, at an existing
// record or claim) and counts it if it wrote.
func (tc *tamperer) tamper(ctx context.Context, kind, k string) {
	if l, ok := tamperLimits[kind]; ok && tc.counts[kind] >= l {
		return
	}
	at, err := tc.write(ctx, kind, k)
	switch {
	case err != nil:
		tc.errs++
	case at != "":
		tc.counts[kind]++
		tc.hits[at] = append(tc.hits[at], kind)
	}
}

// write does one tamper and returns the idempotency key it wrote at ("":
// nothing written).
func (tc *tamperer) write(ctx context.Context, kind, k string) (string, error) {
	r := tc.rdb
	expiry := time.Duration(0) // none
	if rand.IntN(2) == 0 {
		expiry = harness.KeyTTL
	}
	switch kind {
	case tUndecodable:
		v := make([]byte, 1+rand.IntN(64))
		for i := range v {
			v[i] = byte(rand.IntN(256))
		}
		v[0] = 0xff // no version of the format
		return k, r.Set(ctx, tc.name("rec", k), v, expiry).Err()
	case tTypeClaim, tTypeRecord:
		name := tc.name("rec", k)
		if kind == tTypeClaim {
			if !tc.claim(k) {
				return "", nil
			}
			name = tc.name("claim", k)
		}
		if err := r.Del(ctx, name).Err(); err != nil {
			return "", err
		}
		if rand.IntN(2) == 0 {
			return k, r.HSet(ctx, name, "token", "forged").Err()
		}
		return k, r.RPush(ctx, name, "forged").Err()
	case tHuge:
		name := tc.name("rec", k)
		if rand.IntN(2) == 0 && tc.claim(k) {
			name = tc.name("claim", k)
		}
		return k, r.Set(ctx, name, hugeValue, expiry).Err()
	case tNoTTLClaim:
		if !tc.claim(k) {
			return "", nil
		}
		return k, r.Set(ctx, tc.name("claim", k), "forged-no-ttl", 0).Err()
	case tLongClaim:
		if !tc.claim(k) {
			return "", nil
		}
		return k, r.Set(ctx, tc.name("claim", k), "forged-1h", time.Hour).Err()
	case tForged:
		return k, r.Set(ctx, tc.name("rec", k), forgeRecord(tc.byName[k].Number, "{\"total\":123}\n"), harness.KeyTTL).Err()
	case tPersist:
		return tc.persistLive(ctx)
	case tCopied:
		return tc.copyRecord(ctx, k)
	default: // tOtherTotal, tFlipped
		return tc.alterRecord(ctx, kind)
	}
}

// persistLive PERSISTs the claims of the keys being sent now, in one
// round trip, and returns a key whose live claim lost its expiry.
func (tc *tamperer) persistLive(ctx context.Context) (string, error) {
	if tc.inflight == nil {
		return "", nil
	}
	var keys []string
	cmds, err := tc.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for _, k := range tc.inflight() {
			if !tc.claimed[k.Name] {
				keys = append(keys, k.Name)
				pl.Persist(ctx, tc.name("claim", k.Name))
			}
		}
		return nil
	})
	at := ""
	for i, cmd := range cmds {
		if ok, _ := cmd.(*redis.BoolCmd).Result(); ok {
			tc.claimed[keys[i]] = true
			at = keys[i]
		}
	}
	return at, err
}

// claim reports whether k's claim may be tampered with, once.
func (tc *tamperer) claim(k string) bool {
	if tc.claimed[k] {
		return false
	}
	tc.claimed[k] = true
	return true
}

// copyRecord writes the value of an existing record of another key at k's
// record.
func (tc *tamperer) copyRecord(ctx context.Context, k string) (string, error) {
	from, ok := tc.existing("rec")
	if !ok || from.Key == k {
		return "", nil
	}
	v, err := tc.rdb.Get(ctx, from.Name).Bytes()
	if err != nil {
		return "", ignoreNil(err)
	}
	return k, tc.rdb.Set(ctx, tc.name("rec", k), v, harness.KeyTTL).Err()
}

// alterRecord changes an existing record that sumd wrote, keeping its TTL:
// the total in its body replaced by another of as many digits, or its
// last byte flipped.
func (tc *tamperer) alterRecord(ctx context.Context, kind string) (string, error) {
	n, ok := tc.existing("rec")
	if !ok {
		return "", nil
	}
	v, err := tc.rdb.Get(ctx, n.Name).Bytes()
	if err != nil || len(v) == 0 {
		return "", ignoreNil(err)
	}
	if kind == tFlipped {
		v[len(v)-1] ^= 1
	} else {
		i := bytes.Index(v, []byte(`{"total":`))
		if i < 0 {
			return "", nil
		}
		i += len(`{"total":`)
		for j := i; j < len(v) && v[j] >= '0' && v[j] <= '9'; j++ {
			v[j] = '0' + (v[j]-'0'+1+byte(rand.IntN(8)))%10
		}
		if v[i] == '0' && i+1 < len(v) && v[i+1] >= '0' && v[i+1] <= '9' {
			v[i] = '7'
		}
	}
	err = tc.rdb.SetArgs(ctx, n.Name, v, redis.SetArgs{Mode: "XX", KeepTTL: true}).Err()
	if errors.Is(err, redis.Nil) { // gone meanwhile
		return "", nil
	}
	return n.Key, err
}

func ignoreNil(err error) error {
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}

// tamperPause is the pace of the tamper loop.
const tamperPause = 10 * time.Millisecond

// loop tampers until stop is closed: every tamperPause one tamper of a
// random one of kinds, at a key not sent yet (unsent) or one of tc.scope
// in Redis, and every fifth a PERSIST of the live claims.
func (tc *tamperer) loop(ctx context.Context, stop <-chan struct{}, kinds []string, unsent func() []harness.Key) {
	tick := time.NewTicker(tamperPause)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if i%20 == 0 {
			tc.scan(ctx)
		}
		if i%5 == 0 && slices.Contains(kinds, tPersist) {
			tc.tamper(ctx, tPersist, "") // a claim lives for milliseconds: look often
		}
		kind := kinds[rand.IntN(len(kinds))]
		var k string
		if u := unsent(); len(u) > 0 && rand.IntN(2) == 0 {
			k = u[rand.IntN(len(u))].Name
		} else if n, ok := tc.existing(""); ok {
			k = n.Key
		} else {
			continue
		}
		tc.tamper(ctx, kind, k)
	}
}

// blockBound is how long a key may take from its first send to its last
// answer, however its claim was forged, beyond the slowest single attempt
// of its phase (checkResolution adds that: what one exchange costs on this
// machine now, loaded or not): one lease for a forged or stretched claim
// (sumd cuts any claim it meets to one lease), one more for a holder that
// stalls past its lease before a duplicate takes over, and two of the
// Driver's longest pauses between attempts.
const blockBound = 2*harness.LeaseTTL + 2*250*time.Millisecond

// tamperGiveUp is how long a copy of a key keeps trying: generous, so that
// a key that is merely slow on a loaded machine is not given up on;
// checkResolution bounds what tampers may cost a key.
const tamperGiveUp = 30 * time.Second

// tamperPhase is a part of TestRedisTamper's load with the tampers of its
// own kinds.
type tamperPhase struct {
	name  string
	keys  []harness.Key
	kinds []string
}

// The pace of TestRedisTamper's load: a chunk of keys every
// tamperChunkEvery, so that the tamper loop runs all along.
const (
	tamperChunk      = 20
	tamperChunkEvery = 250 * time.Millisecond
)

// TestRedisTamper serves keyed load on three instances while a tamper loop
// writes into their Redis keys everything a stale, foreign, broken or
// hostile Redis could hold: undecodable bytes, a hash or a list where a
// string should be, a 1 MiB value, claims without TTL or with an hour's,
// a live claim PERSISTed, forged records (the right format and
// fingerprint, a made-up total), genuine records with another total in
// their body, copied from another key, or with their last byte flipped.
// Some keys get such content before they are first sent. Redis is only a
// cache (docs/design.md#invariants, 4, 6 and 8): every answer must still
// be MySQL's, nothing may be a 5xx, no key may be blocked for longer than
// a lease (blockBound), and once sumd has seen each key again while using
// Redis, every Redis key has an expiry.
//
// The first phase writes only content on which no Redis command of sumd
// fails (quietKinds), so that sumd does not take Redis for down and
// bypass it: each such tamper meets sumd's Redis path. The second writes
// everything.
//
// It runs with and without -redis-claims. Without claims sumd never reads
// or writes a claim's name, so what the tamperer plants there must change
// nothing (every answer is MySQL's, no key is held up); such names are the
// tamperer's litter and it deletes them before the expiry check, which
// then covers the records alone.
func TestRedisTamper(t *testing.T) {
	t.Parallel()
	for _, claims := range []bool{false, true} {
		t.Run(fmt.Sprintf("claims=%v", claims), func(t *testing.T) {
			t.Parallel()
			redisTamper(t, claims)
		})
	}
}

func redisTamper(t *testing.T, claims bool) {
	opts := harness.Options{Instances: 3}
	if claims {
		opts.Args = []string{"-redis-claims"}
	}
	c := harness.StartCluster(t, opts)
	initial := harness.GetTotal(t, c.Instances[0])
	res := harness.NewResults()
	keys := harness.NewKeys("tamper", 801)
	ns := learnNamespace(t, c, res, keys[0])
	tc := newTamperer(c.Redis, c.Prefix, ns, keys)
	quiet, all := quietKinds, tamperKinds
	if !claims { // no live claim to PERSIST
		quiet, all = without(quiet, tPersist), without(all, tPersist)
	}
	phases := []tamperPhase{
		{"phase 1 (quiet tampers)", keys[1:401], quiet},
		{"phase 2 (all tampers)", keys[401:], all},
	}
	tc.scan(t.Context())
	tc.scope = map[string]bool{keys[0].Name: true} // the record to copy
	for _, p := range phases {
		tc.preplant(t, p)
	}
	for _, p := range phases {
		pres := harness.NewResults()
		tc.runPhase(t, c, p, pres)
		res.Merge(pres)
	}
	tc.strayClaims(t, keys[1:])

	res.Merge(sendAgain(t, c, keys, tc.hits))

	if !claims {
		tc.removeClaims(t)
	}
	harness.CheckTotalOfAnswered(t, c, res, initial)
	harness.CheckAll(t, c, res, initial)
	logBadTTLs(t, c, tc.hits)
}

// againRounds bounds sendAgain's rounds.
const againRounds = 5

// sendAgain sends every key once more, with Redis left alone, so that sumd
// sees each key's Redis content once more and leaves none without expiry
// (the expiry checks follow). It repeats the round until one in which
// every instance used Redis throughout: idemsum_redis_up 1 on each at the
// start, and no Redis error (idemsum_redis_errors_total) until the end.
// After a Redis error (a timeout on a busy machine) an instance bypasses
// Redis for a second, as it should; the keys it serves meanwhile never
// meet their tampered content, so such a round proves nothing about them.
// It fails t when no round in againRounds is clean: then Redis content
// (or Redis) fails sumd's commands again and again. It returns the
// answers of every round, each checked to be MySQL's.
func sendAgain(t *testing.T, c *harness.Cluster, keys []harness.Key, hits map[string][]string) *harness.Results {
	t.Helper()
	all := harness.NewResults()
	for round := 1; ; round++ {
		harness.Await(t, 10*time.Second, "idemsum_redis_up 1 on every instance", func() bool {
			return harness.MetricSum(t, c, "idemsum_redis_up") == float64(len(c.Instances))
		})
		errs := harness.MetricSum(t, c, "idemsum_redis_errors_total")
		res := harness.NewResults()
		d := harness.NewDriver(t, c, res)
		d.Dup, d.Workers, d.GiveUp = 1, 16, tamperGiveUp
		harness.WaitDone(t, d.Go(keys), 2*time.Minute)
		errs = harness.MetricSum(t, c, "idemsum_redis_errors_total") - errs
		t.Logf("again, round %d, every key once: %s; %.0f Redis errors meanwhile (idemsum_redis_errors_total)", round, &d.Stats, errs)
		harness.CheckNo5xx(t, res, "again")
		harness.CheckAnswersAreMySQLs(t, c, res, hits, "again")
		all.Merge(res)
		switch {
		case errs == 0:
			return all
		case round == againRounds:
			t.Fatalf("in each of %d rounds of every key an instance's Redis commands failed (idemsum_redis_errors_total): sumd never saw every key while using Redis", round)
		}
	}
}

// without returns kinds less kind.
func without(kinds []string, kind string) []string {
	return slices.DeleteFunc(slices.Clone(kinds), func(k string) bool { return k == kind })
}

// removeClaims deletes every claim name of the namespace: without
// -redis-claims only the tamperer wrote them.
func (tc *tamperer) removeClaims(t testing.TB) {
	t.Helper()
	ctx := t.Context()
	n := 0
	iter := tc.rdb.Scan(ctx, 0, tc.ns+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if rn, ok := harness.ParseRedisName(iter.Val()); ok && rn.Kind == "claim" {
			if err := tc.rdb.Del(ctx, iter.Val()).Err(); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("without claims: deleted the %d claim names the tamperer left (sumd never used them)", n)
}

// logBadTTLs logs what was written at the keys of the Redis keys that
// CheckRedisTTLs fails: none or a longer expiry than a claim's lease or
// the key TTL.
func logBadTTLs(t testing.TB, c *harness.Cluster, hits map[string][]string) {
	t.Helper()
	ttls, err := harness.ScanTTLs(t.Context(), c.Redis, c.Prefix)
	if err != nil {
		t.Fatalf("%v", err)
	}
	kinds := map[string]int{}
	var bad []string
	for name, ttl := range ttls {
		n, ok := harness.ParseRedisName(name)
		limit := harness.KeyTTL
		if ok && n.Kind == "claim" {
			limit = harness.LeaseTTL
		}
		if ttl > 0 && ttl <= limit {
			continue
		}
		for _, k := range slices.Compact(slices.Sorted(slices.Values(hits[n.Key]))) {
			kinds[k]++
		}
		if len(bad) < 5 {
			bad = append(bad, fmt.Sprintf("%s %s (PTTL %v): tampers %q", n.Kind, n.Key, ttl, hits[n.Key]))
		}
	}
	if len(bad) > 0 {
		t.Logf("Redis keys without a fitting expiry: tampers at their keys %s; for example %s", harness.FormatCounts(kinds), strings.Join(bad, "; "))
	}
}

// strayClaims writes a claim without TTL, a hash and a claim with a 1h
// TTL, each at the claims of three keys completed with their genuine
// records: sumd must leave such a claim an expiry within a lease once it
// sees the key again.
func (tc *tamperer) strayClaims(t testing.TB, keys []harness.Key) {
	t.Helper()
	clear(tc.counts)
	kinds := []string{tNoTTLClaim, tTypeClaim, tLongClaim}
	n := 0
	for _, k := range keys {
		if len(tc.hits[k.Name]) > 0 || n == 3*len(kinds) {
			continue
		}
		tc.tamper(t.Context(), kinds[n%len(kinds)], k.Name)
		n++
	}
	t.Logf("at keys completed with genuine records, after the load: %s", harness.FormatCounts(tc.counts))
}

// preplant writes content at the keys of p sent last, before any load:
// three keys for each of p's kinds that need no record of sumd's.
func (tc *tamperer) preplant(t testing.TB, p tamperPhase) {
	t.Helper()
	var kinds []string
	for _, k := range p.kinds {
		if k != tPersist && k != tOtherTotal && k != tFlipped {
			kinds = append(kinds, k)
		}
	}
	clear(tc.counts)
	for i, k := range p.keys[len(p.keys)-3*len(kinds):] {
		tc.tamper(t.Context(), kinds[i%len(kinds)], k.Name)
	}
	t.Logf("%s: before any load, %s", p.name, harness.FormatCounts(tc.counts))
}

// runPhase sends p's keys, three copies of each at once to the three
// instances, a chunk at a time, while the tamper loop runs with p's kinds.
func (tc *tamperer) runPhase(t testing.TB, c *harness.Cluster, p tamperPhase, res *harness.Results) {
	t.Helper()
	tc.scope = map[string]bool{}
	for _, k := range p.keys {
		tc.scope[k.Name] = true
	}
	clear(tc.counts)
	d := harness.NewDriver(t, c, res)
	d.Dup, d.Workers, d.GiveUp = 3, 2, tamperGiveUp
	var started atomic.Int64 // p.keys before this are given to d
	tc.inflight = func() []harness.Key {
		j := int(started.Load())
		return p.keys[max(0, j-2*tamperChunk):j]
	}
	defer func() { tc.inflight = nil }()
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tc.loop(t.Context(), stop, p.kinds, func() []harness.Key { return p.keys[started.Load():] })
	}()
	redisErrs := harness.MetricSum(t, c, "idemsum_redis_errors_total")
	start := time.Now()
	var dones []<-chan struct{}
	tick := time.NewTicker(tamperChunkEvery) // the pace of the load
	for i := 0; i < len(p.keys); i += tamperChunk {
		j := min(i+tamperChunk, len(p.keys))
		started.Store(int64(j))
		dones = append(dones, d.Go(p.keys[i:j]))
		<-tick.C
	}
	tick.Stop()
	for _, done := range dones {
		harness.WaitDone(t, done, 2*tamperGiveUp)
	}
	close(stop)
	<-stopped
	t.Logf("%s: %d keys × %d copies in %v: %s", p.name, d.Total, d.Dup, time.Since(start).Round(time.Millisecond), &d.Stats)
	t.Logf("%s: %d tampers during the load %s; %d Redis errors of the tamperer; sumd counted %.0f Redis errors (idemsum_redis_errors_total)",
		p.name, harness.SumCounts(tc.counts), harness.FormatCounts(tc.counts), tc.errs, harness.MetricSum(t, c, "idemsum_redis_errors_total")-redisErrs)
	for _, kind := range p.kinds {
		if tc.counts[kind] == 0 {
			t.Errorf("%s: no tamper of kind %q during the load; the scenario tested less than it says", p.name, kind)
		}
	}
	checkResolution(t, res, blockBound, tc.hits, p.name)
	harness.CheckNo5xx(t, res, p.name)
	harness.CheckAnswersAreMySQLs(t, c, res, tc.hits, p.name)
}

// checkResolution fails t for each key whose Sends took longer than bound,
// plus the slowest single attempt in res, from the first one's start to
// the last one's end, quoting the tampers written at it (hits).
func checkResolution(t testing.TB, res *harness.Results, bound time.Duration, hits map[string][]string, what string) {
	t.Helper()
	var attempt time.Duration // the slowest single attempt
	res.Each(func(ks *harness.KeyState) {
		for _, s := range ks.Sends {
			for _, a := range s.Attempts {
				attempt = max(attempt, a.End.Sub(a.Start))
			}
		}
	})
	t.Logf("%s: the slowest single attempt took %v", what, attempt.Round(time.Millisecond))
	bound += attempt
	type slow struct {
		key  string
		took time.Duration
		sts  map[int]int
	}
	var slows []slow
	var slowest time.Duration
	res.Each(func(ks *harness.KeyState) {
		var first, last time.Time
		sts := map[int]int{}
		for _, s := range ks.Sends {
			if first.IsZero() || s.Start.Before(first) {
				first = s.Start
			}
			if s.End.After(last) {
				last = s.End
			}
			for _, a := range s.Attempts {
				sts[a.Status]++
			}
		}
		took := last.Sub(first)
		slowest = max(slowest, took)
		if took > bound {
			slows = append(slows, slow{ks.Name, took, sts})
		}
	})
	sort.Slice(slows, func(i, j int) bool { return slows[i].took > slows[j].took })
	for i, s := range slows {
		if i < 8 {
			t.Errorf("%s: key %s took %v from its first send to its last answer, want within %v (tampers at it %q; statuses of its attempts %v)",
				what, s.key, s.took.Round(time.Millisecond), bound.Round(time.Millisecond), hits[s.key], s.sts)
		}
	}
	t.Logf("%s: %d of %d keys took over %v from first send to last answer; the slowest %v", what, len(slows), res.Len(), bound.Round(time.Millisecond), slowest.Round(time.Millisecond))
	if len(slows) > 8 {
		t.Errorf("%s: %d keys in all took over %v", what, len(slows), bound.Round(time.Millisecond))
	}
}
