package main

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/idemsum/idemsum/internal/buildinfo"
)

// TestVersion: sumd version and sumd -version print the release, the
// revision and the Go version, and exit; -version does so whatever else
// is set, even settings sumd would refuse.
func TestVersion(t *testing.T) {
	t.Parallel()
	want := "sumd\n" + buildinfo.Read().String()
	if !strings.Contains(want, "version  ") || !strings.Contains(want, runtime.Version()) {
		t.Fatalf("buildinfo says %q: want a version line and %s", want, runtime.Version())
	}
	env := map[string]string{"SUM_KEY_TTL": "forever"}
	for _, args := range [][]string{{"version"}, {"-version"}, {"-batch-max", "0", "-version"}} {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"sumd"}, args...), func(k string) string { return env[k] }, &out, &out)
		if err != nil || out.String() != want {
			t.Errorf("sumd %s: got %q, %v; want %q, nil", strings.Join(args, " "), out.String(), err, want)
		}
	}
}

// TestBuildInfoMetric: /metrics has idemsum_build_info with the labels
// sumd version prints, value 1.
func TestBuildInfoMetric(t *testing.T) {
	t.Parallel()
	in := start(t)
	i := buildinfo.Read()
	wantMetric(t, in, fmt.Sprintf("idemsum_build_info{goversion=%q,revision=%q,version=%q} 1\n", i.GoVersion, i.Revision, i.Version))
}
