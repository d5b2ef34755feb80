// Package buildinfo says which release of idemsum a binary is: the module
// version, the VCS revision and the Go version it was built with, as Go
// records them in every binary (runtime/debug.ReadBuildInfo).
//
// A binary built by "go install github.com/idemsum/idemsum/cmd/sumd@v1.2.3"
// has the version v1.2.3. One built in a git clone ("go build ./cmd/sumd")
// has the clone's revision, with "+modified" when it had uncommitted
// changes, and (Go 1.24 and later) the version Go derives from git: the
// tag at that commit, else a pseudo-version such as
// v0.0.0-20261207223648-cc33fab737f7, "+dirty" when modified. Without VCS
// information (-buildvcs=false, a source archive, a git worktree, go run)
// the version is "(devel)" and the revision "unknown".
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Devel is the version of a binary built from a checkout.
const Devel = "(devel)"

// version and revision, when set at link time, stand in for what the
// build information lacks: a build without VCS information, such as the
// Containerfile's (its context leaves .git out), says which release it is
// with
//
//	go build -ldflags "-X github.com/idemsum/idemsum/internal/buildinfo.version=v1.2.3 -X github.com/idemsum/idemsum/internal/buildinfo.revision=$(git rev-parse HEAD)"
//
// What Go records itself always wins.
var version, revision string

// Info is what a binary says of its build.
type Info struct {
	Version   string // module version, such as v1.2.3 or a pseudo-version, or Devel
	Revision  string // VCS revision, "+modified" appended for a dirty tree; "unknown" without VCS information
	Time      string // the revision's commit time (RFC 3339), "" if unknown
	GoVersion string // such as go1.25.4
}

// Read returns the running binary's Info.
func Read() Info { return From(debug.ReadBuildInfo()) }

// From returns the Info that bi records; ok false (no build information)
// gives Devel, an unknown revision and the running Go version.
func From(bi *debug.BuildInfo, ok bool) (i Info) {
	i = Info{Version: Devel, Revision: "unknown", GoVersion: runtime.Version()}
	defer func() {
		if i.Version == Devel && version != "" {
			i.Version = version
		}
		if i.Revision == "unknown" && revision != "" {
			i.Revision = revision
		}
	}()
	if !ok || bi == nil {
		return i
	}
	if v := bi.Main.Version; v != "" {
		i.Version = v
	}
	if bi.GoVersion != "" {
		i.GoVersion = bi.GoVersion
	}
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			i.Revision = s.Value
		case "vcs.time":
			i.Time = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && i.Revision != "unknown" {
		i.Revision += "+modified"
	}
	return i
}

// String is the Info as sumd version prints it: one "name value" line
// each for the version, the revision (and its time, if known) and Go.
func (i Info) String() string {
	rev := i.Revision
	if i.Time != "" {
		rev += " (" + i.Time + ")"
	}
	return fmt.Sprintf("version  %s\nrevision %s\ngo       %s %s/%s\n", i.Version, rev, i.GoVersion, runtime.GOOS, runtime.GOARCH)
}

// Collector is the gauge idemsum_build_info{version,revision,goversion},
// always 1, the way Prometheus's own *_build_info metrics tell which
// release each instance runs.
func (i Info) Collector() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "idemsum_build_info",
		Help:        "Always 1; its labels say which release this instance runs: the module version ((devel) without VCS information), the VCS revision and the Go version.",
		ConstLabels: prometheus.Labels{"version": i.Version, "revision": i.Revision, "goversion": i.GoVersion},
	}, func() float64 { return 1 })
}
