// Command workshop-local runs the EKS workshop's metrics pipeline on this
// machine (what `make run` calls): a real Prometheus behind the SigV4-checking
// AMP stand-in, the demo orders service, and bin/otelcol-eks with
// configs/local.yaml. It prints where to look, waits until the first orders
// are queryable in Prometheus, and runs until Ctrl-C or SIGTERM, then stops
// everything it started.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/common/model"

	"github.com/otelcol-eks/otelcol-eks/test/harness/workshop"
)

// Local test credentials: the stand-in accepts only these, and the
// collector signs with them. They open nothing but the local stand-in.
const (
	localAccessKeyID     = "AKIDLOCALWORKSHOP"
	localSecretAccessKey = "local/Workshop+Secret/not-an-AWS-key0000"
)

// ordersByProduct is the first panel of the Order Service Metrics dashboard.
const ordersByProduct = `sum by(productId)(watch_orders_total{productId!="*"})`

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "workshop-local:", err)
		os.Exit(1)
	}
}

func run() error {
	promAddr := flag.String("prometheus", "127.0.0.1:9090", "loopback address of Prometheus")
	standinAddr := flag.String("standin", "127.0.0.1:9091", "loopback address of the AMP stand-in")
	ordersAddr := flag.String("orders", "127.0.0.1:8080", "loopback address of the demo orders service")
	scrape := flag.Duration("scrape-interval", workshop.DefaultScrapeInterval, "collector scrape interval")
	rate := flag.Float64("orders-per-second", workshop.DefaultOrdersPerSecond, "orders placed per second by the demo")
	collectorBin := flag.String("collector", "", "otelcol-eks binary (default: $"+workshop.BinaryEnv+", else <repo>/bin/otelcol-eks)")
	config := flag.String("config", "", "collector config (default: <repo>/configs/local.yaml)")
	logDir := flag.String("log-dir", filepath.Join(os.TempDir(), "otelcol-eks-workshop"), "directory for collector.log, standin.log and prometheus.log (rewritten on each run)")
	quiet := flag.Bool("quiet", false, "do not echo the collector's and the stand-in's logs")
	flag.Parse()

	var output io.Writer = os.Stderr
	if *quiet {
		output = nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Println("Starting the local workshop: Prometheus, AMP stand-in, orders demo, otelcol-eks …")
	w, err := workshop.Start(ctx, workshop.Options{
		PrometheusAddr:  *promAddr,
		StandinAddr:     *standinAddr,
		OrdersAddr:      *ordersAddr,
		CollectorBinary: *collectorBin,
		ConfigPath:      *config,
		AccessKeyID:     localAccessKeyID,
		SecretAccessKey: localSecretAccessKey,
		ScrapeInterval:  *scrape,
		OrdersPerSecond: *rate,
		Output:          output,
		LogDir:          *logDir,
	})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("Stopping …")
		if err := w.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "workshop-local: stop:", err)
		}
		fmt.Println("Stopped; nothing left running. Logs kept in", w.LogDir())
	}()

	o := w.Options()
	fmt.Printf(`
Local workshop is up.
  Orders by product (Prometheus graph):
    %s
  Prometheus:          %s
  AMP stand-in:        %s  (remote write: %sapi/v1/remote_write, counters: %s/stats)
  Orders demo:         %s/actuator/prometheus  (state: %s/state)
  Collector config:    %s
  Logs:                %s
  Local test credentials: AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s (region %s, service aps)
`, w.GraphURL(ordersByProduct), w.PrometheusURL(), w.StandinURL(), w.AMPEndpoint(),
		w.StandinURL(), w.Orders().URL(), w.Orders().URL(), o.ConfigPath, w.LogDir(),
		o.AccessKeyID, o.SecretAccessKey, o.Region)

	// Two scrape intervals plus the batch and the remote write: say so
	// when the first orders are queryable, or why not.
	waitCtx, cancel := context.WithTimeout(ctx, 3*o.ScrapeInterval+30*time.Second)
	defer cancel()
	start := time.Now()
	vec, err := w.Prometheus().WaitForQuery(waitCtx, ordersByProduct, 0, func(v model.Vector) bool { return len(v) > 0 })
	switch {
	case ctx.Err() != nil:
		return nil
	case err != nil:
		st := w.Standin().Stats()
		fmt.Fprintf(os.Stderr, "\nNo orders in Prometheus yet (%v).\nStand-in: %d accepted, %d rejected %v. See the logs above.\n",
			err, st.Accepted, st.RejectedTotal, st.Rejected)
	default:
		fmt.Printf("\nFirst samples are queryable after %s: %d products ordered so far. Press Ctrl-C to stop.\n",
			time.Since(start).Round(100*time.Millisecond), len(vec))
	}

	select {
	case <-ctx.Done():
	case <-w.CollectorExited():
		return errors.New("the collector exited; see its log in " + w.LogDir())
	}
	return nil
}
