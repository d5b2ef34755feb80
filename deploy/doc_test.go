// Package deploy_test checks what deploy/ and the Containerfile ship, the
// way a user would meet them (docs/testing.md#the-deployment-tests):
//
//   - image_test.go: scripts/image.sh builds the image with podman; its
//     root filesystem, extracted, holds only the static binary and the CA
//     certificates, and its entrypoint, run as the image's user under
//     chroot, becomes ready against the test MySQL and Redis.
//   - kubernetes_test.go: every manifest decodes strictly into the
//     Kubernetes API types; probes, ports, settings and the stop sequence
//     agree with the sumd that is built from this tree, which answers the
//     probes when started with the Deployment's settings.
//   - systemd_test.go: systemd-analyze verifies the unit and rates its
//     exposure.
//   - prometheus_test.go: promtool checks and unit-tests the alerting
//     rules; every metric the rules and the dashboard read is one sumd
//     exports (scraped from a running sumd, plus those that appear only
//     after a first event, read from the source).
//
// deploy/ is a Go module of its own, so that the main module, which other
// modules import, does not depend on k8s.io/api or Prometheus's server
// code. scripts/test.sh runs these tests too.
package deploy_test
