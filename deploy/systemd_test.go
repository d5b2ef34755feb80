package deploy_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSystemdUnit has systemd-analyze verify deploy/systemd/sumd.service
// (with ExecStart pointing at a built sumd, which verify requires to
// exist) and rate its exposure; checks that its environment file sets
// only settings sumd has, and that TimeoutStopSec outlasts sumd's drain
// and shutdown (docs/operations.md#systemd).
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	analyze := needTool(t, "systemd-analyze", "systemd")
	raw, err := os.ReadFile("systemd/sumd.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := parseUnit(string(raw))
	bin := sumdBinary(t)
	flags := sumdFlags(t)

	t.Run("verify", func(t *testing.T) {
		if unit["ExecStart"] != "/usr/local/bin/sumd" {
			t.Fatalf("ExecStart %q: want /usr/local/bin/sumd, as the unit's header installs it", unit["ExecStart"])
		}
		path := filepath.Join(t.TempDir(), "sumd.service")
		local := strings.Replace(string(raw), "ExecStart=/usr/local/bin/sumd", "ExecStart="+bin, 1)
		if err := os.WriteFile(path, []byte(local), 0o644); err != nil {
			t.Fatal(err)
		}
		// verify exits 0 on an unknown key, only saying so: any output fails.
		out, err := exec.Command(analyze, "verify", "--man=no", path).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
		// Exposure runs from 0 (locked down) to 10 (unsafe); the threshold
		// is in tenths: fail above 2.0.
		out, err = exec.Command(analyze, "security", "--offline=yes", "--threshold=20", path).CombinedOutput()
		if err != nil {
			t.Errorf("systemd-analyze security --threshold=20: %v\n%s", err, out)
		}
		t.Logf("%s", lastLine(out))
	})
	t.Run("hardened", func(t *testing.T) {
		for key, want := range map[string]string{
			"DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
			"ProtectHome": "yes", "PrivateTmp": "yes", "CapabilityBoundingSet": "",
			"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "Restart": "on-failure",
			"ExecReload": "kill -HUP $MAINPID", "EnvironmentFile": "/etc/sumd/sumd.env",
		} {
			if got, ok := unit[key]; !ok || got != want {
				t.Errorf("%s=%q: want %q", key, got, want)
			}
		}
		if !strings.Contains(string(raw), "\nSystemCallFilter=@system-service\n") {
			t.Error("want SystemCallFilter=@system-service")
		}
	})
	env := map[string]string{}
	t.Run("the environment file sets only settings sumd has", func(t *testing.T) {
		f, err := os.Open("systemd/sumd.env")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		commented := regexp.MustCompile(`^#(SUM_[A-Z0-9_]+)=`)
		for sc := bufio.NewScanner(f); sc.Scan(); {
			line := strings.TrimSpace(sc.Text())
			name, value, _ := strings.Cut(line, "=")
			if m := commented.FindStringSubmatch(line); m != nil {
				name = m[1]
			} else if line == "" || strings.HasPrefix(line, "#") {
				continue
			} else {
				env[name] = value
			}
			if _, ok := flags[name]; !ok {
				t.Errorf("sumd.env: sumd has no setting %s", name)
			}
		}
	})
	t.Run("TimeoutStopSec outlasts drain and shutdown", func(t *testing.T) {
		stop, err := time.ParseDuration(unit["TimeoutStopSec"])
		if err != nil {
			t.Fatalf("TimeoutStopSec %q: %v", unit["TimeoutStopSec"], err)
		}
		var total time.Duration
		for _, name := range []string{"SUM_SHUTDOWN_DELAY", "SUM_SHUTDOWN_TIMEOUT"} {
			v, ok := setting(flags, env, name)
			if !ok {
				t.Logf("sumd has no %s: counted as 0", name)
				continue
			}
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("%s=%q: %v", name, v, err)
			}
			total += d
		}
		if stop <= total {
			t.Errorf("TimeoutStopSec %v: want more than -shutdown-delay + -shutdown-timeout = %v", stop, total)
		}
	})
}

// parseUnit returns a unit file's settings, the last of each key.
func parseUnit(raw string) map[string]string {
	unit := map[string]string{}
	for _, line := range strings.Split(raw, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			unit[k] = v
		}
	}
	return unit
}

// lastLine returns the last non-empty line of out.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}
