package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// clusterProbe probes every master of a cluster with a key of a slot it
// serves: a key may live on any master, so Redis counts as up only while
// every master takes writes. ForEachMaster reads the topology anew first,
// so a replica promoted after its master died is probed (and used by the
// Store) within a probe. The errors of all failing masters are joined.
func clusterProbe(ctx context.Context, cc *redis.ClusterClient, keys *slotKeys) error {
	var mu sync.Mutex
	var errs []error
	err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		err := probeMaster(ctx, m, keys)
		if err != nil {
			mu.Lock()
			errs = append(errs, fmt.Errorf("master %s: %w", m.Options().Addr, err))
			mu.Unlock()
		}
		return err
	})
	if len(errs) == 0 {
		return err // the topology could not be read
	}
	return errors.Join(errs...)
}

// probeMaster sends the write probe to m with a key of the first slot
// range m says it serves (CLUSTER NODES, its "myself" line).
func probeMaster(ctx context.Context, m *redis.Client, keys *slotKeys) error {
	nodes, err := m.ClusterNodes(ctx).Result()
	if err != nil {
		return err
	}
	lo, hi, ok := ownSlots(nodes)
	if !ok {
		return nil // a master without slots holds no keys
	}
	return probe(ctx, m, keys.within(lo, hi))
}

// ownSlots returns the first slot range of the "myself" line of a CLUSTER
// NODES reply: fields from the ninth on are slots ("5461", "0-5460") or
// slots being migrated ("[...]").
func ownSlots(nodes string) (lo, hi int, ok bool) {
	for _, line := range strings.Split(nodes, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || !slices.Contains(strings.Split(f[2], ","), "myself") {
			continue
		}
		for _, s := range f[8:] {
			a, b, isRange := strings.Cut(s, "-")
			lo, err1 := strconv.Atoi(a)
			hi, err2 := lo, error(nil)
			if isRange {
				hi, err2 = strconv.Atoi(b)
			}
			if err1 == nil && err2 == nil {
				return lo, hi, true
			}
		}
	}
	return 0, 0, false
}

// slotKeys finds, and remembers, a probe key for each slot range: its name
// followed by a number in braces (a hash tag) whose slot is in the range.
type slotKeys struct {
	name string
	mu   sync.Mutex
	keys map[[2]int]string
}

func newSlotKeys(name string) *slotKeys { return &slotKeys{name: name, keys: map[[2]int]string{}} }

func (k *slotKeys) within(lo, hi int) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if key, ok := k.keys[[2]int{lo, hi}]; ok {
		return key
	}
	for n := 0; ; n++ {
		tag := strconv.Itoa(n)
		if s := slot(tag); s >= lo && s <= hi {
			key := k.name + "{" + tag + "}"
			k.keys[[2]int{lo, hi}] = key
			return key
		}
	}
}

// slot returns the Redis Cluster slot of key: CRC16 (XMODEM) of its hash
// tag (what is between its first "{" and the first "}" after it, if not
// empty) or of the whole key, modulo 16384.
func slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}
