package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// millis returns the durations of ns milliseconds.
func millis(ns ...int) []time.Duration {
	d := make([]time.Duration, len(ns))
	for i, n := range ns {
		d[i] = time.Duration(n) * time.Millisecond
	}
	return d
}

// upTo returns 1ms, 2ms, ..., n ms.
func upTo(n int) []time.Duration {
	d := make([]time.Duration, n)
	for i := range d {
		d[i] = time.Duration(i+1) * time.Millisecond
	}
	return d
}

func TestPct(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	tests := []struct {
		name   string
		sorted []time.Duration
		p      int
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one p0", millis(7), 0, 7 * ms},
		{"one p50", millis(7), 50, 7 * ms},
		{"one p100", millis(7), 100, 7 * ms},
		{"two p50", millis(1, 9), 50, 1 * ms},
		{"two p99", millis(1, 9), 99, 1 * ms},
		{"two p100", millis(1, 9), 100, 9 * ms},
		{"ten p0", upTo(10), 0, 1 * ms},
		{"ten p50", upTo(10), 50, 5 * ms},
		{"ten p95", upTo(10), 95, 9 * ms},
		{"ten p99", upTo(10), 99, 9 * ms},
		{"ten p100", upTo(10), 100, 10 * ms},
		{"hundred p50", upTo(100), 50, 50 * ms},
		{"hundred p95", upTo(100), 95, 95 * ms},
		{"hundred p99", upTo(100), 99, 99 * ms},
		{"hundred one p99", upTo(101), 99, 100 * ms},
		{"ties", millis(1, 2, 2, 2, 3), 50, 2 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := pct(tt.sorted, tt.p); got != tt.want {
				t.Errorf("pct(%v, %d): got %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestMs(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]float64{0: 0, 1500 * time.Microsecond: 1.5, 2*time.Second + 999: 2000, 250 * time.Nanosecond: 0} {
		if got := ms(d); got != want {
			t.Errorf("ms(%v): got %v, want %v", d, got, want)
		}
	}
}

// TestReport checks the report of a loader filled by hand: ten requests
// of 1..10 ms spread over two workers.
func TestReport(t *testing.T) {
	t.Parallel()
	l := newLoader(config{URLs: []string{"http://x"}, Concurrency: 2})
	for i, d := range upTo(10) {
		o := outcome{status: http.StatusOK, latency: d, replayed: i%4 == 0}
		if i == 9 {
			o = outcome{latency: d} // a transport error
		} else if i == 8 {
			o.status = http.StatusConflict
		}
		l.results[i%2] = append(l.results[i%2], o)
		l.status[o.status]++
	}
	l.err = errors.New("read tcp: connection reset by peer")
	got := l.report(2 * time.Second)
	want := report{
		Requests: 10, Seconds: 2, RPS: 5,
		P50ms: 5, P95ms: 9, P99ms: 9, MaxMs: 10,
		ByStatus: map[string]int{"200": 8, "409": 1, "error": 1},
		Replayed: 3, Error: "read tcp: connection reset by peer",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("report:\ngot  %+v\nwant %+v", got, want)
	}
}

func TestReportEmpty(t *testing.T) {
	t.Parallel()
	l := newLoader(config{URLs: []string{"http://x"}, Concurrency: 3})
	got := l.report(time.Second)
	want := report{ByStatus: map[string]int{}, Seconds: 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("report:\ngot  %+v\nwant %+v", got, want)
	}
}

func TestReportPrint(t *testing.T) {
	t.Parallel()
	r := report{
		Requests: 10, Seconds: 2, RPS: 5, P50ms: 5, P95ms: 9, P99ms: 9.25, MaxMs: 10,
		ByStatus: map[string]int{"503": 1, "200": 8, "error": 1}, Replayed: 3,
		Check: "ok", TotalDelta: "123", Accepted: "123", Resolved: 2, Error: "i/o timeout",
	}
	var text bytes.Buffer
	r.print(&text, false)
	want := "requests   10 in 2.0s = 5 req/s\n" +
		"latency    p50 5.00ms  p95 9.00ms  p99 9.25ms  max 10.00ms\n" +
		"status     200:8 503:1 error:1  (replayed 3)\n" +
		"errors     e.g. i/o timeout\n" +
		"check      ok: total moved by 123, accepted additions sum to 123 (2 unknown outcomes resolved after the run)\n"
	if text.String() != want {
		t.Errorf("text report:\ngot  %q\nwant %q", text.String(), want)
	}

	var js bytes.Buffer
	r.print(&js, true)
	var back report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON report %q: %v", js.String(), err)
	}
	if !reflect.DeepEqual(back, r) {
		t.Errorf("JSON report round trip:\ngot  %+v\nwant %+v", back, r)
	}
	for _, field := range []string{`"requests":10`, `"p99_ms":9.25`, `"by_status":{"200":8,"503":1,"error":1}`, `"total_delta":"123"`, `"resolved_after_run":2`, `"transport_error":"i/o timeout"`} {
		if !strings.Contains(js.String(), field) {
			t.Errorf("JSON report %q: want it to contain %s", js.String(), field)
		}
	}
}

func TestAcceptedSum(t *testing.T) {
	t.Parallel()
	const big = 1<<63 - 1
	tests := []struct {
		name  string
		free  []uint64
		added map[int64]uint64
		want  string
	}{
		{"nothing", nil, nil, "0"},
		{"keyless", []uint64{1, 2, 3}, nil, "6"},
		{"keyed", nil, map[int64]uint64{1: 5, 2: 7}, "12"},
		{"both", []uint64{1}, map[int64]uint64{1: 5}, "6"},
		{"keyless past uint64", []uint64{big, big, big, big, 4}, nil, "36893488147419103232"}, // 2^65
		{"keyless carry twice", []uint64{math.MaxUint64, math.MaxUint64, 2}, nil, "36893488147419103232"},
		{"keyed past uint64", nil, map[int64]uint64{1: big, 2: big, 3: 2}, "18446744073709551616"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLoader(config{URLs: []string{"http://x"}, Concurrency: 1})
			for _, n := range tt.free {
				l.free.add(n)
			}
			for k, n := range tt.added {
				l.added[k] = n
			}
			if got := l.acceptedSum().String(); got != tt.want {
				t.Errorf("acceptedSum: got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestRecord checks what the check learns from a sequence of outcomes,
// recorded in one tally, or each in its own tally and the tallies merged
// in order or in reverse (workers finish in any order).
func TestRecord(t *testing.T) {
	t.Parallel()
	type step struct {
		id      int64 // 0: keyless
		number  uint64
		status  int
		counted bool
	}
	tests := []struct {
		name    string
		steps   []step
		added   map[int64]uint64
		unknown map[int64]uint64
		free    uint64
		lost    int
		status  map[int]int
	}{
		{name: "keyed 200", steps: []step{{1, 5, 200, true}}, added: map[int64]uint64{1: 5}, status: map[int]int{200: 1}},
		{name: "keyed 503", steps: []step{{1, 5, 503, true}}, unknown: map[int64]uint64{1: 5}, status: map[int]int{503: 1}},
		{name: "keyed error", steps: []step{{1, 5, 0, true}}, unknown: map[int64]uint64{1: 5}, status: map[int]int{0: 1}},
		{name: "keyed 409", steps: []step{{1, 5, 409, true}}, status: map[int]int{409: 1}},
		{name: "keyed 422", steps: []step{{1, 5, 422, true}}, status: map[int]int{422: 1}},
		{name: "error then replay", steps: []step{{1, 5, 0, true}, {1, 5, 200, true}}, added: map[int64]uint64{1: 5}, status: map[int]int{0: 1, 200: 1}},
		{name: "200 then error", steps: []step{{1, 5, 200, true}, {1, 5, 503, true}}, added: map[int64]uint64{1: 5}, status: map[int]int{200: 1, 503: 1}},
		{name: "two replays", steps: []step{{1, 5, 200, true}, {1, 5, 200, true}}, added: map[int64]uint64{1: 5}, status: map[int]int{200: 2}},
		{name: "cut by the end", steps: []step{{1, 5, 0, false}, {0, 3, 0, false}}, unknown: map[int64]uint64{1: 5}, lost: 1},
		{name: "keyless 200s", steps: []step{{0, 3, 200, true}, {0, 4, 200, true}}, free: 7, status: map[int]int{200: 2}},
		{name: "keyless 503", steps: []step{{0, 3, 503, true}}, lost: 1, status: map[int]int{503: 1}},
		{name: "keyless 400", steps: []step{{0, 3, 400, true}}, status: map[int]int{400: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, how := range []string{"one tally", "merged", "merged in reverse"} {
				l := newLoader(config{URLs: []string{"http://x"}, Concurrency: 1})
				var tallies []*tally
				for _, s := range tt.steps {
					u := &l.tally
					if how != "one tally" {
						u = newTally()
						tallies = append(tallies, u)
					}
					u.record(keyed{id: s.id, number: s.number}, outcome{status: s.status}, s.counted)
				}
				if how == "merged in reverse" {
					slices.Reverse(tallies)
				}
				for _, u := range tallies {
					l.merge(u)
				}
				checkTally(t, how, &l.tally, tt.added, tt.unknown, tt.free, tt.lost, tt.status)
			}
		})
	}
}

// checkTally compares got with the wanted fields, nil maps being empty.
func checkTally(t *testing.T, how string, got *tally, added, unknown map[int64]uint64, free uint64, lost int, status map[int]int) {
	t.Helper()
	orEmpty := func(m map[int64]uint64) map[int64]uint64 {
		if m == nil {
			return map[int64]uint64{}
		}
		return m
	}
	if !reflect.DeepEqual(got.added, orEmpty(added)) {
		t.Errorf("%s: added: got %v, want %v", how, got.added, added)
	}
	if !reflect.DeepEqual(got.unknown, orEmpty(unknown)) {
		t.Errorf("%s: unknown: got %v, want %v", how, got.unknown, unknown)
	}
	if got.free != (uint64sum{lo: free}) || got.lost != lost {
		t.Errorf("%s: free %v, lost %d: want %d, %d", how, got.free, got.lost, free, lost)
	}
	if status == nil {
		status = map[int]int{}
	}
	if !reflect.DeepEqual(got.status, status) {
		t.Errorf("%s: status: got %v, want %v", how, got.status, status)
	}
}

// TestPick checks the keys and numbers of each key mode.
func TestPick(t *testing.T) {
	t.Parallel()
	t.Run("unique", func(t *testing.T) {
		t.Parallel()
		l := newLoader(config{URLs: []string{"http://x"}, Concurrency: 1, Keys: "unique", Min: 3, Max: 5, Prefix: "p-"})
		rng := rand.New(rand.NewPCG(1, 2))
		for i := 1; i <= 100; i++ {
			k := l.pick(rng)
			if want := "p-" + strconv.Itoa(i); l.key(k.id) != want || k.number < 3 || k.number > 5 {
				t.Fatalf("pick %d: got %+v, want key %s and 3 <= number <= 5", i, k, want)
			}
		}
		if len(l.used) != 0 {
			t.Errorf("used: got %d keys, want none kept outside dup mode", len(l.used))
		}
	})
	t.Run("none", func(t *testing.T) {
		t.Parallel()
		l := newLoader(config{URLs: []string{"http://x"}, Concurrency: 1, Keys: "none", Min: 1<<63 - 1, Max: 1<<63 - 1})
		rng := rand.New(rand.NewPCG(1, 2))
		for range 10 {
			if k := l.pick(rng); k != (keyed{number: 1<<63 - 1}) {
				t.Fatalf("pick: got %+v, want no key and the one number", k)
			}
		}
	})
	t.Run("dup", func(t *testing.T) {
		t.Parallel()
		l := newLoader(config{URLs: []string{"http://x"}, Concurrency: 1, Keys: "dup", DupShare: 0.5, Min: 1, Max: 1000, Prefix: "p-"})
		rng := rand.New(rand.NewPCG(1, 2))
		first := map[int64]uint64{}
		repeats := 0
		for range 1000 {
			k := l.pick(rng)
			if n, ok := first[k.id]; ok {
				repeats++
				if n != k.number {
					t.Fatalf("repeat of %d: got number %d, want the first one %d", k.id, k.number, n)
				}
			}
			first[k.id] = k.number
		}
		if repeats < 400 || repeats > 600 {
			t.Errorf("repeats: got %d of 1000, want about half", repeats)
		}
		if len(l.used) != len(first) {
			t.Errorf("used: got %d keys, want the %d distinct ones", len(l.used), len(first))
		}
	})
}

// TestPickDupFirst is a regression test: the first request of a dup run
// has no earlier key to repeat, and pick used to return holding the lock
// on that path and then lock it again, hanging every worker.
func TestPickDupFirst(t *testing.T) {
	t.Parallel()
	l := newLoader(config{URLs: []string{"http://x"}, Concurrency: 1, Keys: "dup", DupShare: math.Nextafter(1, 0), Min: 1, Max: 1, Prefix: "p-"})
	done := make(chan keyed)
	go func() {
		rng := rand.New(rand.NewPCG(1, 2))
		done <- l.pick(rng)
		done <- l.pick(rng)
	}()
	for i, want := range []keyed{{1, 1}, {1, 1}} { // a new key, then (almost surely) its repeat
		select {
		case got := <-done:
			if got != want {
				t.Errorf("pick %d: got %+v, want %+v", i+1, got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("pick %d: still blocked after 5s (deadlock)", i+1)
		}
	}
}

// TestProgressOff checks that progress prints nothing unless stderr is a
// terminal and -progress is on.
func TestProgressOff(t *testing.T) {
	t.Parallel()
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	for _, tt := range []struct {
		progress bool
		stderr   io.Writer
	}{
		{true, &buf}, // not a file
		{true, f},    // a file, not a terminal
		{false, os.Stderr},
	} {
		l := newLoader(config{URLs: []string{"http://x"}, Concurrency: 1, Progress: tt.progress})
		l.progress(tt.stderr)()
	}
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != 0 || buf.Len() != 0 {
		t.Errorf("progress wrote %d bytes to a file and %q to a buffer, want nothing", st.Size(), buf.String())
	}
}
