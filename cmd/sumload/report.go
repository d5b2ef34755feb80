package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"time"
)

// report is the result of a run; -json prints it as is.
type report struct {
	Requests   int            `json:"requests"`
	Seconds    float64        `json:"seconds"`
	RPS        float64        `json:"rps"`
	P50ms      float64        `json:"p50_ms"`
	P95ms      float64        `json:"p95_ms"`
	P99ms      float64        `json:"p99_ms"`
	MaxMs      float64        `json:"max_ms"`
	ByStatus   map[string]int `json:"by_status"`
	Replayed   int            `json:"replayed"`
	Check      string         `json:"check"` // ok, MISMATCH, or unverifiable
	TotalDelta string         `json:"total_delta"`
	Accepted   string         `json:"accepted_sum"`
	Resolved   int            `json:"resolved_after_run"`
	Error      string         `json:"transport_error,omitempty"` // one of them
}

func (l *loader) report(elapsed time.Duration) report {
	var all []time.Duration
	r := report{ByStatus: map[string]int{}, Seconds: elapsed.Seconds()}
	if l.err != nil {
		r.Error = l.err.Error()
	}
	for _, w := range l.results {
		for _, o := range w {
			all = append(all, o.latency)
			if o.replayed {
				r.Replayed++
			}
		}
	}
	slices.Sort(all)
	r.Requests = len(all)
	r.RPS = float64(len(all)) / elapsed.Seconds()
	r.P50ms, r.P95ms, r.P99ms = ms(pct(all, 50)), ms(pct(all, 95)), ms(pct(all, 99))
	if len(all) > 0 {
		r.MaxMs = ms(all[len(all)-1])
	}
	for s, n := range l.status {
		name := strconv.Itoa(s)
		if s == 0 {
			name = "error"
		}
		r.ByStatus[name] = n
	}
	return r
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)-1)*p/100]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// acceptedSum is the sum of every addition known to have been made.
func (l *loader) acceptedSum() *big.Int {
	s := new(big.Int).Lsh(new(big.Int).SetUint64(l.free.hi), 64)
	s.Add(s, new(big.Int).SetUint64(l.free.lo))
	for _, n := range l.added {
		s.Add(s, new(big.Int).SetUint64(n))
	}
	return s
}

func (r report) print(w io.Writer, asJSON bool) {
	if asJSON {
		json.NewEncoder(w).Encode(r)
		return
	}
	fmt.Fprintf(w, "requests   %d in %.1fs = %.0f req/s\n", r.Requests, r.Seconds, r.RPS)
	fmt.Fprintf(w, "latency    p50 %.2fms  p95 %.2fms  p99 %.2fms  max %.2fms\n", r.P50ms, r.P95ms, r.P99ms, r.MaxMs)
	keys := make([]string, 0, len(r.ByStatus))
	for k := range r.ByStatus {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprint(w, "status    ")
	for _, k := range keys {
		fmt.Fprintf(w, " %s:%d", k, r.ByStatus[k])
	}
	fmt.Fprintf(w, "  (replayed %d)\n", r.Replayed)
	if r.Error != "" {
		fmt.Fprintf(w, "errors     e.g. %s\n", r.Error)
	}
	fmt.Fprintf(w, "check      %s: total moved by %s, accepted additions sum to %s (%d unknown outcomes resolved after the run)\n",
		r.Check, r.TotalDelta, r.Accepted, r.Resolved)
}
