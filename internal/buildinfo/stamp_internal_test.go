package buildinfo

import (
	"runtime/debug"
	"testing"
)

// TestStampStandsInForWhatIsMissing: a version and revision set at link
// time (-ldflags -X) fill in what a build without VCS information lacks,
// and never override what Go recorded.
func TestStampStandsInForWhatIsMissing(t *testing.T) {
	version, revision = "v9.9.9", "0123abc"
	defer func() { version, revision = "", "" }()
	if got := From(nil, false); got.Version != "v9.9.9" || got.Revision != "0123abc" {
		t.Errorf("no build information: got %+v, want the stamped v9.9.9 0123abc", got)
	}
	bi := &debug.BuildInfo{Main: debug.Module{Version: "v0.5.0"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "64189f8"}}}
	if got := From(bi, true); got.Version != "v0.5.0" || got.Revision != "64189f8" {
		t.Errorf("with build information: got %+v, want Go's own v0.5.0 64189f8", got)
	}
}
