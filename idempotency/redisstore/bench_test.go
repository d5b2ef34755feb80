package redisstore_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/redisstore"
	"github.com/idemsum/idemsum/internal/redistopo"
)

// BenchmarkClaimComplete measures a fresh key's Redis work (Claim, then
// Complete) on one Redis and on a cluster of 3 masters with a replica
// each, both of the benchmark's own, with concurrent callers whose calls
// share pipelines (on the cluster, split by master):
//
//	go test -run '^$' -bench ClaimComplete -benchtime 3s ./idempotency/redisstore/
func BenchmarkClaimComplete(b *testing.B) {
	single := redistopo.StartNode(b)
	cluster := clusterClient(b, redistopo.StartCluster(b, 3, 1), sumdTimeout)
	topologies := []struct {
		name string
		c    redis.UniversalClient
	}{{"single", single.Client()}, {"cluster", cluster}}
	for _, topo := range topologies {
		for _, par := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/callers=%dxGOMAXPROCS", topo.name, par), func(b *testing.B) {
				benchClaimComplete(b, topo.c, par)
			})
		}
	}
}

func benchClaimComplete(b *testing.B, c redis.UniversalClient, par int) {
	s := redisstore.New(c, fmt.Sprintf("bench:%d:", time.Now().UnixNano()), secret)
	rec := idempotency.Record{Fingerprint: "fp", Status: 200, Body: []byte(`{"total":1}`)}
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(par)
	b.RunParallel(func(pb *testing.PB) {
		ctx := b.Context()
		for pb.Next() {
			k := fmt.Sprint("k", n.Add(1))
			tok, err := s.Claim(ctx, k, time.Minute)
			if err != nil {
				b.Error(err)
				return
			}
			if err := s.Complete(ctx, k, tok, rec, time.Minute); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
