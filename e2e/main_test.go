package e2e_test

import (
	"testing"

	"idemsum/e2e/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
