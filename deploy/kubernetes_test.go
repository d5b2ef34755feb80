package deploy_test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// manifests are the decoded objects of deploy/kubernetes/.
type manifests struct {
	deployment *appsv1.Deployment
	migrate    *batchv1.Job // sumd migrate, apart from the serving pods
	service    *corev1.Service
	pdb        *policyv1.PodDisruptionBudget
	secrets    map[string]*corev1.Secret
	kustomize  *kustomization
	files      []string // every file but the kustomization, by name
}

// kustomization is the part of kustomize's format deploy/kubernetes uses;
// decoded strictly like the rest.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
}

// decodeStrict decodes one YAML document into obj, failing on any field
// the type does not have.
func decodeStrict(doc []byte, obj any) error {
	return yaml.UnmarshalStrict(doc, obj)
}

// objectFor returns a new object of the API type for apiVersion and kind;
// nil for a kind deploy/kubernetes should not hold.
func objectFor(apiVersion, kind string) any {
	switch apiVersion + " " + kind {
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}
	case "batch/v1 Job":
		return &batchv1.Job{}
	case "v1 Service":
		return &corev1.Service{}
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	case "v1 Secret":
		return &corev1.Secret{}
	case "kustomize.config.k8s.io/v1beta1 Kustomization":
		return &kustomization{}
	}
	return nil
}

// loadManifests decodes every document of every YAML file in dir strictly
// into its API type.
func loadManifests(t *testing.T, dir string) manifests {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no manifests in %s (%v)", dir, err)
	}
	m := manifests{secrets: map[string]*corev1.Secret{}}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range splitDocuments(raw) {
			obj, err := decodeManifest(doc)
			if err != nil {
				t.Fatalf("%s, document %d: %v", filepath.Base(p), i+1, err)
			}
			m.add(t, filepath.Base(p), obj)
		}
	}
	return m
}

// decodeManifest decodes one document strictly into the type its
// apiVersion and kind name.
func decodeManifest(doc []byte) (any, error) {
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, err
	}
	obj := objectFor(tm.APIVersion, tm.Kind)
	if obj == nil {
		return nil, fmt.Errorf("unexpected %s %s", tm.APIVersion, tm.Kind)
	}
	if err := decodeStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	return obj, nil
}

func (m *manifests) add(t *testing.T, file string, obj any) {
	t.Helper()
	if _, ok := obj.(*kustomization); !ok && !strings.HasSuffix(file, ".example.yaml") {
		m.files = append(m.files, file)
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		m.deployment = o
	case *batchv1.Job:
		m.migrate = o
	case *corev1.Service:
		m.service = o
	case *policyv1.PodDisruptionBudget:
		m.pdb = o
	case *corev1.Secret:
		m.secrets[o.Name] = o
	case *kustomization:
		m.kustomize = o
	}
}

// splitDocuments splits a YAML stream at its "---" lines, dropping
// documents that hold only comments.
func splitDocuments(raw []byte) [][]byte {
	var docs [][]byte
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(raw), -1) {
		for _, line := range strings.Split(doc, "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
				docs = append(docs, []byte(doc))
				break
			}
		}
	}
	return docs
}

// TestKubernetesManifests decodes deploy/kubernetes/ strictly into the
// Kubernetes API types and checks it against the sumd built from this
// tree: the settings it sets are sumd's, the probes and the Service reach
// the port sumd listens on, the stop sequence fits in the grace period,
// and the pod runs as the image's user with a read-only root; then it
// starts that sumd with the Deployment's settings and the example tokens
// file and asks the probes' paths (docs/operations.md#kubernetes).
func TestKubernetesManifests(t *testing.T) {
	t.Parallel()
	m := loadManifests(t, "kubernetes")
	if m.deployment == nil || m.service == nil || m.pdb == nil || m.migrate == nil {
		t.Fatalf("want a Deployment, a Service, a PodDisruptionBudget and a migration Job; got %v, %v, %v, %v",
			m.deployment != nil, m.service != nil, m.pdb != nil, m.migrate != nil)
	}
	d := m.deployment
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("containers: got %d, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	env := containerEnv(c)
	flags := sumdFlags(t)

	t.Run("an unknown field fails decoding", func(t *testing.T) {
		raw, _ := os.ReadFile("kubernetes/deployment.yaml")
		bad := bytes.Replace(raw, []byte("  replicas: 3\n"), []byte("  replicas: 3\n  replica: 3\n"), 1)
		if _, err := decodeManifest(bad); err == nil {
			t.Error("a Deployment with spec.replica decoded without error: decoding is not strict")
		}
	})
	t.Run("three replicas, selected alike by everything", func(t *testing.T) {
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
			t.Errorf("replicas: got %v, want 3", d.Spec.Replicas)
		}
		labels := d.Spec.Template.Labels
		selects := func(what string, sel map[string]string) {
			for k, v := range sel {
				if labels[k] != v {
					t.Errorf("%s selects %s=%s; the pods have %v", what, k, v, labels)
				}
			}
			if len(sel) == 0 {
				t.Errorf("%s selects nothing", what)
			}
		}
		selects("the Deployment", d.Spec.Selector.MatchLabels)
		selects("the Service", m.service.Spec.Selector)
		selects("the PodDisruptionBudget", m.pdb.Spec.Selector.MatchLabels)
		if mu := m.pdb.Spec.MaxUnavailable; mu == nil || mu.IntValue() < 1 || mu.IntValue() >= 3 {
			t.Errorf("PodDisruptionBudget maxUnavailable %v: want 1 or 2 of 3", mu)
		}
	})
	t.Run("sets only settings sumd has", func(t *testing.T) {
		for name := range env {
			if _, ok := flags[name]; strings.HasPrefix(name, "SUM_") && !ok {
				t.Errorf("env %s: sumd has no such setting (sumd -h)", name)
			}
		}
	})
	port := listenPort(t, flags, env)
	t.Run("probes and Service reach the port sumd listens on", func(t *testing.T) {
		if got := containerPort(t, c, intstr.FromString("http")); got != port {
			t.Errorf("containerPort http %d, but sumd listens on %d (SUM_HTTP_ADDR)", got, port)
		}
		for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
			if p == nil || p.HTTPGet == nil {
				t.Errorf("%s probe: want an httpGet", name)
				continue
			}
			if got := containerPort(t, c, p.HTTPGet.Port); got != port {
				t.Errorf("%s probe port %v is %d; sumd listens on %d", name, p.HTTPGet.Port.String(), got, port)
			}
		}
		for _, sp := range m.service.Spec.Ports {
			if got := containerPort(t, c, sp.TargetPort); got != port {
				t.Errorf("Service port %s targets %d; sumd listens on %d", sp.Name, got, port)
			}
		}
		if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet.Path != "/readyz" {
			t.Errorf("readiness probe path %q: want /readyz", c.ReadinessProbe.HTTPGet.Path)
		}
		if c.LivenessProbe != nil && c.LivenessProbe.HTTPGet != nil && c.LivenessProbe.HTTPGet.Path != "/healthz" {
			t.Errorf("liveness probe path %q: want /healthz (it does not depend on MySQL)", c.LivenessProbe.HTTPGet.Path)
		}
		if a := d.Spec.Template.Annotations["prometheus.io/port"]; a != strconv.Itoa(int(port)) {
			t.Errorf("annotation prometheus.io/port %q; sumd serves /metrics on %d", a, port)
		}
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
			t.Error("a preStop hook: sumd drains by itself on SIGTERM (-shutdown-delay)")
		}
	})
	t.Run("the grace period outlasts drain and shutdown", func(t *testing.T) {
		checkStopSequence(t, pod, c, flags, env)
	})
	t.Run("runs as the image's user, read-only, without privileges", func(t *testing.T) {
		checkSecurity(t, pod, c)
	})
	t.Run("secrets and the tokens file", func(t *testing.T) {
		checkSecrets(t, m, pod, c, env)
	})
	t.Run("the schema is migrated by a Job, not by the serving pods", func(t *testing.T) {
		checkMigrateJob(t, m, c, flags, env)
	})
	t.Run("the kustomization lists every manifest", func(t *testing.T) {
		if m.kustomize == nil {
			t.Fatal("no kustomization.yaml")
		}
		if got := slices.Sorted(slices.Values(m.kustomize.Resources)); !slices.Equal(got, m.files) {
			t.Errorf("kustomization resources %q, manifests %q", m.kustomize.Resources, m.files)
		}
	})
	t.Run("sumd answers the probes with the Deployment's settings", func(t *testing.T) {
		probeLive(t, m, c)
	})
}

// containerEnv returns the container's environment by name; values taken
// from elsewhere (a Secret) are "".
func containerEnv(c corev1.Container) map[string]string {
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}

// listenPort is the port of the address sumd listens on with env.
func listenPort(t *testing.T, flags map[string]flagInfo, env map[string]string) int32 {
	t.Helper()
	addr, _ := setting(flags, env, "SUM_HTTP_ADDR")
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("SUM_HTTP_ADDR %q: %v", addr, err)
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("SUM_HTTP_ADDR %q: in a pod sumd must listen on every interface, not %s", addr, host)
	}
	n, err := strconv.ParseInt(p, 10, 32)
	if err != nil {
		t.Fatalf("SUM_HTTP_ADDR %q: %v", addr, err)
	}
	return int32(n)
}

// containerPort resolves a probe's or Service's port (a number or a
// container port's name) to a number; 0 if it names no port.
func containerPort(t *testing.T, c corev1.Container, p intstr.IntOrString) int32 {
	t.Helper()
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	t.Errorf("port %q: the container has no port of that name", p.StrVal)
	return 0
}

// checkStopSequence wants terminationGracePeriodSeconds above sumd's
// -shutdown-delay plus -shutdown-timeout as the Deployment sets them (or
// sumd's defaults), and the readiness probe to notice the drain within
// the delay.
func checkStopSequence(t *testing.T, pod corev1.PodSpec, c corev1.Container, flags map[string]flagInfo, env map[string]string) {
	dur := func(name string) time.Duration {
		v, ok := setting(flags, env, name)
		if !ok {
			t.Logf("sumd has no %s: counted as 0", name)
			return 0
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s=%q: %v", name, v, err)
		}
		return d
	}
	delay, timeout := dur("SUM_SHUTDOWN_DELAY"), dur("SUM_SHUTDOWN_TIMEOUT")
	if timeout == 0 {
		t.Fatal("sumd has no -shutdown-timeout")
	}
	if pod.TerminationGracePeriodSeconds == nil {
		t.Fatal("no terminationGracePeriodSeconds (Kubernetes' default, 30 s, is not checked against sumd)")
	}
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	if grace <= delay+timeout {
		t.Errorf("terminationGracePeriodSeconds %v: want more than -shutdown-delay %v + -shutdown-timeout %v", grace, delay, timeout)
	}
	if rp := c.ReadinessProbe; rp != nil && delay > 0 {
		notice := time.Duration(rp.PeriodSeconds*rp.FailureThreshold) * time.Second
		if notice > delay {
			t.Errorf("the readiness probe notices a drain after up to %v (period × failureThreshold); sumd drains for %v", notice, delay)
		}
	}
}

// checkSecurity wants the pod to run as the Containerfile's USER, without
// privilege escalation or capabilities, on a read-only root filesystem.
func checkSecurity(t *testing.T, pod corev1.PodSpec, c corev1.Container) {
	uid, gid := containerfileUser(t)
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("pod securityContext: want runAsNonRoot: true")
	}
	if psc == nil || psc.RunAsUser == nil || *psc.RunAsUser != uid || psc.RunAsGroup == nil || *psc.RunAsGroup != gid {
		t.Errorf("pod securityContext: want runAsUser %d and runAsGroup %d, the Containerfile's USER", uid, gid)
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("container securityContext: want readOnlyRootFilesystem: true")
	}
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("container securityContext: want allowPrivilegeEscalation: false")
	}
	if sc == nil || sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) > 0 {
		t.Error("container securityContext: want capabilities drop [ALL], none added")
	}
}

// containerfileUser reads the numeric USER of the Containerfile's final stage.
func containerfileUser(t *testing.T) (int64, int64) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "Containerfile"))
	if err != nil {
		t.Fatal(err)
	}
	users := regexp.MustCompile(`(?m)^USER (\d+):(\d+)\s*$`).FindAllStringSubmatch(string(raw), -1)
	if len(users) != 1 {
		t.Fatalf("Containerfile: want one numeric USER uid:gid, got %q", users)
	}
	uid, _ := strconv.ParseInt(users[0][1], 10, 64)
	gid, _ := strconv.ParseInt(users[0][2], 10, 64)
	return uid, gid
}

// checkSecrets wants every secretKeyRef to name a key of the example
// Secrets, and SUM_AUTH_TOKENS to lie in a read-only mount of a Secret
// holding that file.
func checkSecrets(t *testing.T, m manifests, pod corev1.PodSpec, c corev1.Container, env map[string]string) {
	for _, e := range c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		if s := m.secrets[ref.Name]; s == nil || s.StringData[ref.Key] == "" {
			t.Errorf("env %s: secret %s key %s is not in secret.example.yaml", e.Name, ref.Name, ref.Key)
		}
	}
	file := env["SUM_AUTH_TOKENS"]
	if file == "" {
		t.Fatal("SUM_AUTH_TOKENS unset: the Deployment should read its tokens from a Secret")
	}
	if _, ok := tokensFile(m, pod, c); !ok {
		t.Errorf("SUM_AUTH_TOKENS %s is not a file of a Secret mounted read-only", file)
	}
}

// tokensFile returns the example content of the file SUM_AUTH_TOKENS
// names, found through the container's read-only Secret mounts.
func tokensFile(m manifests, pod corev1.PodSpec, c corev1.Container) (string, bool) {
	file := containerEnv(c)["SUM_AUTH_TOKENS"]
	for _, vm := range c.VolumeMounts {
		rel, err := filepath.Rel(vm.MountPath, file)
		if err != nil || strings.HasPrefix(rel, "..") || !vm.ReadOnly || vm.SubPath != "" {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == vm.Name && v.Secret != nil && m.secrets[v.Secret.SecretName] != nil {
				content, ok := m.secrets[v.Secret.SecretName].StringData[rel]
				return content, ok
			}
		}
	}
	return "", false
}

// probeLive starts the sumd built from this tree with the Deployment's
// plain settings, the test's MySQL and Redis in place of the Secret's, and
// the example tokens file, then asks the probes' paths.
func probeLive(t *testing.T, m manifests, c corev1.Container) {
	settings := services(t)
	for _, e := range c.Env {
		if _, ok := settings[e.Name]; !ok && e.ValueFrom == nil {
			settings[e.Name] = e.Value
		}
	}
	tokens, _ := tokensFile(m, m.deployment.Spec.Template.Spec, c)
	file := filepath.Join(t.TempDir(), "tokens.txt")
	if err := os.WriteFile(file, []byte(tokens), 0o644); err != nil {
		t.Fatal(err)
	}
	settings["SUM_AUTH_TOKENS"] = file
	migrateAsTheJob(t, m, settings["SUM_MYSQL_DSN"])
	cmd := exec.Command(sumdBinary(t))
	cmd.Env = envList(settings)
	in := start(t, cmd, settings["SUM_HTTP_ADDR"])
	for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
		if status, body, err := get(in.URL + p.HTTPGet.Path); err != nil || status != http.StatusOK {
			t.Errorf("GET %s: got %d %q %v, want 200", p.HTTPGet.Path, status, body, err)
		}
	}
}

// checkMigrateJob wants the Job to run this image's `sumd migrate` with
// settings sumd has, from keys of the example Secret, as the same user
// with the same restrictions as the Deployment; and the Deployment's pods
// to run no DDL (SUM_MIGRATE=false), which only makes sense with the Job.
func checkMigrateJob(t *testing.T, m manifests, serving corev1.Container, flags map[string]flagInfo, env map[string]string) {
	job := m.migrate.Spec.Template.Spec
	if len(job.Containers) != 1 {
		t.Fatalf("the Job's containers: got %d, want 1", len(job.Containers))
	}
	c := job.Containers[0]
	if c.Image != serving.Image || len(c.Command) != 0 || !slices.Equal(c.Args, []string{"migrate"}) {
		t.Errorf("the Job runs %s %q %q; want the Deployment's image %s with args [migrate] and the image's entrypoint", c.Image, c.Command, c.Args, serving.Image)
	}
	if job.RestartPolicy != corev1.RestartPolicyOnFailure && job.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("the Job's restartPolicy %q: want OnFailure or Never", job.RestartPolicy)
	}
	jobFlags := sumdFlags(t, c.Args...)
	for _, e := range c.Env {
		if _, ok := jobFlags[e.Name]; strings.HasPrefix(e.Name, "SUM_") && !ok {
			t.Errorf("the Job's env %s: sumd %s has no such setting (sumd %[2]s -h)", e.Name, strings.Join(c.Args, " "))
		}
		if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
			if s := m.secrets[ref.SecretKeyRef.Name]; s == nil || s.StringData[ref.SecretKeyRef.Key] == "" {
				t.Errorf("the Job's env %s: secret %s key %s is not in secret.example.yaml", e.Name, ref.SecretKeyRef.Name, ref.SecretKeyRef.Key)
			}
		}
	}
	if v, ok := setting(flags, env, "SUM_MIGRATE"); !ok || v != "false" {
		t.Errorf("the Deployment's SUM_MIGRATE is %q: with a migration Job its pods should run no DDL (false)", v)
	}
	checkSecurity(t, job, c)
}

// migrateAsTheJob runs the built sumd with the Job's args and plain
// settings, its Secret's DSN replaced by dsn, and wants it to exit 0, so
// that the Deployment's sumd (SUM_MIGRATE=false) finds a migrated schema.
func migrateAsTheJob(t *testing.T, m manifests, dsn string) {
	t.Helper()
	c := m.migrate.Spec.Template.Spec.Containers[0]
	settings := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			settings[e.Name] = e.Value
		case strings.HasSuffix(e.Name, "_DSN"):
			settings[e.Name] = dsn
		}
	}
	cmd := exec.Command(sumdBinary(t), c.Args...)
	cmd.Env = envList(settings)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sumd %s as the Job runs it: %v\n%s", strings.Join(c.Args, " "), err, out)
	}
}
