package e2e_test

import (
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
)

func TestConcurrentDuplicatesThreeInstances(t *testing.T) {
	t.Parallel()
	s := harness.StartScenario(t, harness.Options{Instances: 3})
	s.D.Dup = 3
	s.Run(harness.NewKeys("clean", harness.LoadKeys), 90*time.Second)
	t.Logf("on 3 instances: %s", s.Summary())
	// Group commit is on by default: the exactness above must have held
	// with transactions carrying several additions, not one each.
	batches, added := harness.MetricSum(t, s.C, "idemsum_batch_size_count"), harness.MetricSum(t, s.C, "idemsum_batch_size_sum")
	t.Logf("group commit: %.0f additions in %.0f transactions (%.2f per transaction)", added, batches, added/batches)
	if batches == 0 || added-batches < 10 {
		t.Errorf("%.0f additions in %.0f group-commit transactions: want several transactions of more than one addition", added, batches)
	}
	s.Check()
}
