package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseSubject(t *testing.T) {
	got, err := parseSubject("tuned:configs/workshop.yaml+bench/configs/x.yaml+GOGC=200+--feature-gates=a,b")
	require.NoError(t, err)
	require.Equal(t, subjectSpec{
		Label:   "tuned",
		Configs: []string{"configs/workshop.yaml", "bench/configs/x.yaml"},
		Env:     []string{"GOGC=200"},
		Args:    []string{"--feature-gates=a,b"},
	}, got)
	require.Equal(t, "tuned:configs/workshop.yaml+bench/configs/x.yaml+GOGC=200+--feature-gates=a,b", got.String())

	got, err = parseSubject("agent:bench/configs/prometheus-agent.yaml")
	require.NoError(t, err)
	require.True(t, got.Prometheus)

	for _, bad := range []string{"noconfig", ":a.yaml", "x:GOGC=1", "x:a.yaml+junk", "p:prometheus-agent.yaml+b.yaml"} {
		_, err := parseSubject(bad)
		require.Error(t, err, bad)
	}
	for _, s := range defaultSubjects {
		_, err := parseSubject(s)
		require.NoError(t, err, s)
	}
}
