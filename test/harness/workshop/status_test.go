//go:build e2e

package workshop

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-eks/otelcol-eks/test/harness/faultproxy"
)

// Every field of Status moves with what it reports: samples and scrapes as
// they are stored, the queue during an outage, refusals when the stand-in
// stops accepting the collector's credentials.
func TestStatusReadsEveryPart(t *testing.T) {
	w, err := Start(context.Background(), Options{
		AccessKeyID: "AKIDSTATUS", SecretAccessKey: "status/Secret+0123456789abcdefghijklmn",
		ScrapeInterval: time.Second, FaultProxy: true,
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, w.Stop()) })

	status := func(what string, cond func(Status) bool) Status {
		t.Helper()
		var st Status
		var err error
		require.Eventually(t, func() bool {
			st, err = w.Status(context.Background())
			return err == nil && cond(st)
		}, time.Minute, 200*time.Millisecond, "waiting for %s; last status %+v, error %v", what, st, err)
		return st
	}
	st := status("stored samples and a scrape", func(s Status) bool {
		return s.StoredSamples > 0 && !s.LastScrape.IsZero()
	})
	require.WithinDuration(t, time.Now(), st.LastScrape, 30*time.Second)
	require.Zero(t, st.Refused)

	require.NoError(t, w.Faults().Set(faultproxy.Refuse()))
	status("requests queued during an outage", func(s Status) bool {
		return s.QueuedRequests >= 2 && s.QueuedBytes > 0
	})
	require.NoError(t, w.Standin().SetCredentials(aws.Credentials{AccessKeyID: "AKIDOTHER", SecretAccessKey: "other"}))
	require.NoError(t, w.Faults().Set(faultproxy.Pass()))
	status("requests refused by the stand-in", func(s Status) bool { return s.Refused > 0 })
}
