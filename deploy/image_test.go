package deploy_test

import (
	"archive/tar"
	"crypto/x509"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/idemsum/idemsum/internal/testenv"
)

// imageConfig is the part of an image's configuration that says how to run it.
type imageConfig struct {
	Config struct {
		User         string
		Env          []string
		Entrypoint   []string
		Cmd          []string
		ExposedPorts map[string]struct{}
	} `json:"config"`
}

// TestImage builds the image with scripts/image.sh, extracts its root
// filesystem from `podman save`, checks that it holds the static binary
// and the CA certificates and nothing else, then runs its entrypoint as
// its user under chroot (podman run fails on this machine's cgroups)
// against the test MySQL and Redis until /readyz answers 200, adds once,
// and stops it with SIGTERM (docs/operations.md#container-image).
func TestImage(t *testing.T) {
	t.Parallel()
	podman := needTool(t, "podman", "podman")
	if os.Geteuid() != 0 {
		testenv.Missing(t, "the image test runs the entrypoint under chroot, which needs root")
	}
	settings := services(t) // before the build: skip early without services
	tag := "localhost/idemsum-test-image:" + testenv.Unique()
	build := exec.Command("scripts/image.sh", tag)
	build.Dir = repoRoot(t)
	build.Env = append(os.Environ(), "SUMD_BINARY="+sumdBinary(t))
	out, err := build.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/image.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(podman, "rmi", "--force", tag).Run() })
	t.Logf("%s", strings.TrimSpace(string(out))) // the image's size

	dir := t.TempDir()
	archive := filepath.Join(dir, "image.tar")
	if out, err := exec.Command(podman, "save", "--format", "docker-archive", "-o", archive, tag).CombinedOutput(); err != nil {
		t.Fatalf("podman save: %v\n%s", err, out)
	}
	rootfs := filepath.Join(dir, "rootfs")
	cfg := extractImage(t, archive, rootfs)

	t.Run("holds the static binary and CA certificates, nothing else", func(t *testing.T) {
		checkImageFiles(t, rootfs, cfg)
	})
	t.Run("runs as a numeric non-root user", func(t *testing.T) {
		uid, gid := imageUser(t, cfg)
		if uid == 0 || gid == 0 {
			t.Errorf("image user %q: want non-root", cfg.Config.User)
		}
	})
	t.Run("listens on the port it exposes", func(t *testing.T) {
		addr := envValue(cfg.Config.Env, "SUM_HTTP_ADDR")
		port := addr[strings.LastIndex(addr, ":")+1:]
		if _, ok := cfg.Config.ExposedPorts[port+"/tcp"]; !ok {
			t.Errorf("SUM_HTTP_ADDR=%q but the image exposes %v", addr, cfg.Config.ExposedPorts)
		}
	})
	t.Run("its entrypoint serves against MySQL and Redis", func(t *testing.T) {
		runImage(t, rootfs, cfg, settings)
	})
}

// extractImage unpacks the layers of a docker-archive into dir and returns
// the image's configuration.
func extractImage(t *testing.T, archive, dir string) imageConfig {
	t.Helper()
	files := map[string][]byte{}
	readTar(t, archive, func(name string, r io.Reader) {
		if name == "manifest.json" || strings.HasSuffix(name, ".json") {
			b, _ := io.ReadAll(r)
			files[name] = b
		}
	})
	var manifest []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json: %v (%d images)", err, len(manifest))
	}
	var cfg imageConfig
	if err := json.Unmarshal(files[manifest[0].Config], &cfg); err != nil {
		t.Fatalf("image config: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, layer := range manifest[0].Layers {
		readTar(t, archive, func(name string, r io.Reader) {
			if name == layer {
				extractLayer(t, r, dir)
			}
		})
	}
	// The root directory is the container's "/": its user must reach into it.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// readTar calls f with each regular file of the tar archive at name.
func readTar(t *testing.T, name string, f func(string, io.Reader)) {
	t.Helper()
	file, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	tr := tar.NewReader(file)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		if h.Typeflag == tar.TypeReg {
			f(h.Name, tr)
		}
	}
}

// extractLayer unpacks one layer (a tar) into dir: directories, regular
// files and symbolic links; anything else, and any whiteout (a FROM
// scratch image has nothing to delete), fails the test.
func extractLayer(t *testing.T, r io.Reader, dir string) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("read layer: %v", err)
		}
		name := path.Clean("/" + h.Name)
		if strings.HasPrefix(path.Base(name), ".wh.") {
			t.Fatalf("layer entry %s: a whiteout in an image built FROM scratch", h.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, os.FileMode(h.Mode).Perm())
		case tar.TypeReg:
			err = writeFile(target, tr, os.FileMode(h.Mode).Perm())
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, target)
		default:
			t.Fatalf("layer entry %s: unexpected type %c", h.Name, h.Typeflag)
		}
		if err != nil {
			t.Fatalf("extract %s: %v", h.Name, err)
		}
	}
}

// writeFile writes r to name with mode perm, creating its directory.
func writeFile(name string, r io.Reader, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// checkImageFiles wants exactly the entrypoint, statically linked, and a
// CA bundle that parses.
func checkImageFiles(t *testing.T, rootfs string, cfg imageConfig) {
	var files []string
	filepath.WalkDir(rootfs, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(rootfs, p)
			files = append(files, "/"+filepath.ToSlash(rel))
		}
		return err
	})
	entry := cfg.Config.Entrypoint
	if len(entry) != 1 {
		t.Fatalf("entrypoint %q: want the binary alone", entry)
	}
	want := []string{"/etc/ssl/certs/ca-certificates.crt", entry[0]}
	slices.Sort(want)
	if !slices.Equal(files, want) {
		t.Errorf("files in the image: got %q, want %q", files, want)
	}
	bin, err := elf.Open(filepath.Join(rootfs, entry[0]))
	if err != nil {
		t.Fatalf("entrypoint: %v", err)
	}
	defer bin.Close()
	for _, p := range bin.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("entrypoint %s is dynamically linked (%v): it cannot run FROM scratch", entry[0], p.Type)
		}
	}
	pem, err := os.ReadFile(filepath.Join(rootfs, "etc/ssl/certs/ca-certificates.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		t.Error("the CA bundle holds no certificate")
	}
}

// imageUser parses the image's numeric USER uid:gid.
func imageUser(t *testing.T, cfg imageConfig) (uint32, uint32) {
	t.Helper()
	u, g, ok := strings.Cut(cfg.Config.User, ":")
	uid, err1 := strconv.ParseUint(u, 10, 32)
	gid, err2 := strconv.ParseUint(g, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("image user %q: want numeric uid:gid (no /etc/passwd in the image)", cfg.Config.User)
	}
	return uint32(uid), uint32(gid)
}

// runImage runs the image's entrypoint the way a container engine would:
// chrooted into its root filesystem, as its user, with its environment
// plus the test's MySQL and Redis (and a free port: the host's 8080 may be
// taken); then adds once and stops it.
func runImage(t *testing.T, rootfs string, cfg imageConfig, settings map[string]string) {
	uid, gid := imageUser(t, cfg)
	env := append(slices.Clone(cfg.Config.Env), envList(settings)...)
	cmd := exec.Command(cfg.Config.Entrypoint[0], cfg.Config.Cmd...)
	cmd.Env, cmd.Dir = env, "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot:     rootfs,
		Credential: &syscall.Credential{Uid: uid, Gid: gid, NoSetGroups: true},
	}
	in := start(t, cmd, settings["SUM_HTTP_ADDR"])
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if want := fmt.Sprintf("Uid:\t%d\t%d\t", uid, uid); err != nil || !strings.Contains(string(status), want) {
		t.Errorf("the entrypoint's process: want %q in its status, got %v\n%s", want, err, status)
	}
	req, _ := http.NewRequest(http.MethodPost, in.URL+"/sum?number=5", nil)
	req.Header.Set("Idempotency-Key", "image-"+testenv.Unique())
	code, body, err := do(req)
	if err != nil || code != http.StatusOK || strings.TrimSpace(body) != `{"total":5}` {
		t.Errorf("POST /sum?number=5: got %d %q %v, want 200 {\"total\":5}", code, body, err)
	}
	in.stop(t)
}

// envValue returns the value of name in an environment list.
func envValue(env []string, name string) string {
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v
		}
	}
	return fmt.Sprintf("<%s unset>", name)
}
