package harness

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RSSBound is the most resident memory a sumd process may use under any
// test's load: generous, the point is that it does not grow with the
// number of keys.
const RSSBound = 300 << 20

// RSSSampler reads the VmRSS of every instance's current process every
// 50ms and keeps the peak of each instance.
type RSSSampler struct {
	done  chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	peaks map[string]int64 // bytes, by instance name
}

// SampleRSS starts sampling the resident memory of c's instances, until
// Stop.
func SampleRSS(c *Cluster) *RSSSampler {
	s := &RSSSampler{done: make(chan struct{}), peaks: map[string]int64{}}
	s.wg.Go(func() {
		for {
			for _, in := range c.Instances {
				if b, ok := vmRSS(in.Pid()); ok {
					s.mu.Lock()
					s.peaks[in.Name] = max(s.peaks[in.Name], b)
					s.mu.Unlock()
				}
			}
			select {
			case <-s.done:
				return
			case <-time.After(50 * time.Millisecond): // the sampling period
			}
		}
	})
	return s
}

// Stop ends the sampling and returns the peak of each instance.
func (s *RSSSampler) Stop() map[string]int64 {
	close(s.done)
	s.wg.Wait()
	return s.peaks
}

// CheckRSS logs each instance's peak and fails t if one is over bound.
func CheckRSS(t testing.TB, peaks map[string]int64, bound int64) {
	t.Helper()
	if len(peaks) == 0 {
		t.Logf("no VmRSS sample (no /proc?): memory not checked")
		return
	}
	var parts []string
	for name, b := range peaks {
		parts = append(parts, fmt.Sprintf("%s %.1f MiB", name, float64(b)/(1<<20)))
		if b > bound {
			t.Errorf("%s: peak VmRSS %.1f MiB, want under %d MiB", name, float64(b)/(1<<20), bound>>20)
		}
	}
	t.Logf("peak VmRSS: %s", strings.Join(parts, ", "))
}

// vmRSS returns the resident set size of process pid, from
// /proc/<pid>/status.
func vmRSS(pid int) (int64, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}
