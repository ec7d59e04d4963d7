package workshop

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// OrdersJob is the scrape job of the orders demo in configs/local.yaml.
const OrdersJob = "orders"

// Status is a snapshot of the running workshop, as `make run`'s status
// line shows it; each field is read from the part that knows it.
type Status struct {
	// StoredSamples counts the samples Prometheus has stored since it
	// started: all remote-written by the collector through the stand-in
	// (its prometheus_tsdb_head_samples_appended_total).
	StoredSamples int64
	// LastScrape is the time of the newest stored `up` sample of
	// OrdersJob: the last scrape of the demo that reached Prometheus. Zero
	// before the first one.
	LastScrape time.Time
	// QueuedRequests and QueuedBytes are what the collector's
	// remote_write_delivery queue holds (otelcol_remote_write_queue_requests
	// and otelcol_remote_write_queue_bytes on its own metrics endpoint).
	QueuedRequests, QueuedBytes int64
	// Refused counts the requests the stand-in refused (a bad signature,
	// wrong credentials): none when all is well.
	Refused int64
}

// Status reads the workshop's status. A part that cannot be read leaves its
// fields zero and adds its error; the other fields are filled all the same.
func (w *Workshop) Status(ctx context.Context) (Status, error) {
	st := Status{Refused: w.standin.Stats().RejectedTotal}
	var errs []error
	const appended = "prometheus_tsdb_head_samples_appended_total"
	prom, err := scrapeSums(ctx, w.prom.URL()+"/metrics")
	if err != nil {
		errs = append(errs, fmt.Errorf("prometheus: %w", err))
	}
	// Absent until the first sample: the counter has a series per sample
	// type, each created by its first sample.
	st.StoredSamples = prom[appended]
	vec, err := w.prom.Query(ctx, `max(timestamp(up{job="`+OrdersJob+`"}))`, time.Time{})
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("prometheus: %w", err))
	case len(vec) == 1:
		sec, frac := math.Modf(float64(vec[0].Value))
		st.LastScrape = time.Unix(int64(sec), int64(frac*1e9))
	}
	const queueRequests, queueBytes = "otelcol_remote_write_queue_requests", "otelcol_remote_write_queue_bytes"
	coll, err := scrapeSums(ctx, w.CollectorMetricsURL())
	if err == nil {
		if _, ok := coll[queueRequests]; !ok {
			err = fmt.Errorf("no %s at %s", queueRequests, w.CollectorMetricsURL())
		}
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("collector: %w", err))
	}
	st.QueuedRequests, st.QueuedBytes = coll[queueRequests], coll[queueBytes]
	return st, errors.Join(errs...)
}

// statusClient reads the status: an endpoint that does not answer within
// a few seconds is reported, not waited for.
var statusClient = &http.Client{Timeout: 5 * time.Second}

// scrapeSums reads the Prometheus text exposition at url and returns the
// sum of each family's series values, by family name.
func scrapeSums(ctx context.Context, url string) (map[string]int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := statusClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("cannot parse %s: %w", url, err)
	}
	sums := make(map[string]int64, len(families))
	for name, f := range families {
		var sum float64
		for _, m := range f.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
		}
		sums[name] = int64(sum)
	}
	return sums, nil
}
