package buildinfo_test

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idemsum/idemsum/internal/buildinfo"
)

// TestFrom reads what go build and go install record: a release's module
// version, a checkout's (devel) with its revision, a dirty tree, and no
// build information at all.
func TestFrom(t *testing.T) {
	t.Parallel()
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: "2026-12-07T21:51:00Z"}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want buildinfo.Info
	}{
		{"go install of a release", &debug.BuildInfo{GoVersion: "go1.25.4", Main: debug.Module{Path: "github.com/idemsum/idemsum", Version: "v0.5.0"}},
			true, buildinfo.Info{Version: "v0.5.0", Revision: "unknown", GoVersion: "go1.25.4"}},
		{"clean checkout", &debug.BuildInfo{GoVersion: "go1.25.4", Main: debug.Module{Version: "(devel)"}, Settings: vcs("64189f8", "false")},
			true, buildinfo.Info{Version: "(devel)", Revision: "64189f8", Time: "2026-12-07T21:51:00Z", GoVersion: "go1.25.4"}},
		{"dirty checkout", &debug.BuildInfo{GoVersion: "go1.25.4", Main: debug.Module{Version: "(devel)"}, Settings: vcs("64189f8", "true")},
			true, buildinfo.Info{Version: "(devel)", Revision: "64189f8+modified", Time: "2026-12-07T21:51:00Z", GoVersion: "go1.25.4"}},
		{"test binary", &debug.BuildInfo{GoVersion: "go1.25.4"},
			true, buildinfo.Info{Version: "(devel)", Revision: "unknown", GoVersion: "go1.25.4"}},
		{"no build information", nil, false, buildinfo.Info{Version: "(devel)", Revision: "unknown", GoVersion: runtime.Version()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := buildinfo.From(tc.bi, tc.ok); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestString prints one line each for the version, the revision and Go.
func TestString(t *testing.T) {
	t.Parallel()
	got := buildinfo.Info{Version: "v0.5.0", Revision: "abc+modified", GoVersion: "go1.25.4"}.String()
	for _, want := range []string{"version  v0.5.0\n", "revision abc+modified\n", "go       go1.25.4 " + runtime.GOOS + "/" + runtime.GOARCH + "\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("got %q, want a line %q", got, want)
		}
	}
}

// TestCollector is idemsum_build_info with the three labels, value 1.
func TestCollector(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(buildinfo.Info{Version: "v0.5.0", Revision: "abc", GoVersion: "go1.25.4"}.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetName() != "idemsum_build_info" || len(mfs[0].GetMetric()) != 1 {
		t.Fatalf("got %v, want one idemsum_build_info", mfs)
	}
	m := mfs[0].GetMetric()[0]
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	want := map[string]string{"version": "v0.5.0", "revision": "abc", "goversion": "go1.25.4"}
	if len(labels) != len(want) || labels["version"] != want["version"] || labels["revision"] != want["revision"] || labels["goversion"] != want["goversion"] {
		t.Errorf("labels: got %v, want %v", labels, want)
	}
	if got := m.GetGauge().GetValue(); got != 1 {
		t.Errorf("value: got %v, want 1", got)
	}
}
