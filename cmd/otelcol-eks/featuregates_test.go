package main

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/featuregate"
)

// TestDistributionFeatureGates: every gate the distribution turns on exists
// and is on when the binary starts.
func TestDistributionFeatureGates(t *testing.T) {
	enabled := map[string]bool{}
	featuregate.GlobalRegistry().VisitAll(func(g *featuregate.Gate) {
		enabled[g.ID()] = g.IsEnabled()
	})
	for _, id := range distributionFeatureGates {
		on, registered := enabled[id]
		require.True(t, registered, "feature gate %s is not registered by any component", id)
		require.True(t, on, "feature gate %s must be on by default", id)
	}
}
