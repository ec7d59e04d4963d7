// Command workshop-local runs the EKS workshop's metrics pipeline on this
// machine (what `make run` calls): a real Prometheus behind the SigV4-checking
// AMP stand-in, the demo orders service, and bin/otelcol-eks with
// configs/local.yaml.
//
// The logs of the collector, the stand-in and Prometheus go to files in
// -log-dir. The terminal shows what is starting, then the Prometheus graph
// of the workshop dashboard's first panel and where everything is, then a
// status line (samples stored, last scrape, queue depth) until Ctrl-C or
// SIGTERM, which stops everything it started. Errors still reach the
// terminal: a part that fails to start, the collector's exit, and the
// error lines of the parts' logs.
package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

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

// logFiles are the files the workshop writes in its log directory.
const logFiles = "collector.log, standin.log, prometheus.log"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command. It returns the exit code: 0 once stopped by Ctrl-C or
// SIGTERM, 1 when a part failed, 2 for bad flags.
func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("workshop-local", flag.ContinueOnError)
	flags.SetOutput(stderr)
	promAddr := flags.String("prometheus", "127.0.0.1:9090", "loopback address of Prometheus")
	standinAddr := flags.String("standin", "127.0.0.1:9091", "loopback address of the AMP stand-in")
	ordersAddr := flags.String("orders", "127.0.0.1:8080", "loopback address of the demo orders service")
	scrape := flags.Duration("scrape-interval", workshop.DefaultScrapeInterval, "collector scrape interval")
	rate := flags.Float64("orders-per-second", workshop.DefaultOrdersPerSecond, "orders placed per second by the demo")
	collectorBin := flags.String("collector", "", "otelcol-eks binary (default: $"+workshop.BinaryEnv+", else <repo>/bin/otelcol-eks)")
	config := flags.String("config", "", "collector config (default: <repo>/configs/local.yaml)")
	logDir := flags.String("log-dir", filepath.Join(os.TempDir(), "otelcol-eks-workshop"), "directory for "+logFiles+" (rewritten on each run) and the collector's queue")
	statusEvery := flags.Duration("status-interval", 0, "how often the status line is refreshed (0: every second on a terminal, else every 5s)")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	con := newConsole(stdout, stderr)
	if *statusEvery <= 0 {
		*statusEvery = 5 * time.Second
		if con.tty {
			*statusEvery = time.Second
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	con.Printf("otelcol-eks local workshop; logs go to %s\n", *logDir)
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
		LogDir:          *logDir,
		LogOutput:       func(part string) io.Writer { return &errorLines{part: part, con: con} },
		Starting:        func(part string) { con.Printf("  starting %s …\n", part) },
	})
	if err != nil {
		code := 1
		if ctx.Err() != nil {
			code = 0
			con.Printf("Interrupted while starting.\n")
		} else {
			con.Errorf("workshop-local: %s\n", withoutLogTail(err))
		}
		con.Printf("Stopped; nothing left running. Logs: %s (%s)\n", *logDir, logFiles)
		return code
	}
	printAddresses(con, w)
	code := watch(ctx, con, w, *statusEvery)
	con.EndStatus()
	con.Printf("Stopping …\n")
	if err := w.Stop(); err != nil && code == 0 {
		con.Errorf("workshop-local: stop: %v\n", err)
		code = 1
	}
	con.Printf("Stopped; nothing left running. Logs: %s (%s)\n", w.LogDir(), logFiles)
	return code
}

// withoutLogTail is err's text without the log tail a part that failed to
// start adds ("; its log:\n..."): the log's error lines have reached the
// terminal already, and the rest of it is in its file.
func withoutLogTail(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "; its log:")
	return msg
}

func printAddresses(con *console, w *workshop.Workshop) {
	o := w.Options()
	con.Printf(`
Orders by product, the workshop dashboard's first panel (Prometheus graph):
  %s

  Prometheus    %s
  AMP stand-in  %sapi/v1/remote_write  (counters: %s/stats)
  Orders demo   %s/actuator/prometheus  (state: %s/state)
  Collector     %s  (its own metrics: %s)
  Logs          %s  (%s)
  Credentials   AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s
                (local test keys, region %s, service aps)

Ctrl-C stops everything.
`, w.GraphURL(ordersByProduct), w.PrometheusURL(), w.AMPEndpoint(), w.StandinURL(),
		w.Orders().URL(), w.Orders().URL(), o.ConfigPath, w.CollectorMetricsURL(),
		w.LogDir(), logFiles, o.AccessKeyID, o.SecretAccessKey, o.Region)
}

// watch refreshes the status line every interval until ctx ends (it returns
// 0) or the collector exits (1). It says once when the first scrape is
// stored, or, when none is after a few scrape intervals, what the stand-in
// saw.
func watch(ctx context.Context, con *console, w *workshop.Workshop, every time.Duration) int {
	start := time.Now()
	patience := 3*w.Options().ScrapeInterval + 30*time.Second
	scraped, warned := false, false
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		st, err := w.Status(ctx)
		if ctx.Err() != nil {
			return 0
		}
		switch {
		case !scraped && !st.LastScrape.IsZero():
			scraped = true
			con.Printf("The first scrape is stored, %s after the start: the graph has data.\n",
				time.Since(start).Round(100*time.Millisecond))
		case !scraped && !warned && time.Since(start) > patience:
			warned = true
			s := w.Standin().Stats()
			con.Errorf("workshop-local: no scrape stored after %s; the stand-in accepted %d requests and refused %d %v; see %s\n",
				patience, s.Accepted, s.RejectedTotal, s.Rejected, filepath.Join(w.LogDir(), "collector.log"))
		}
		con.Status(statusLine(time.Now(), st, err))
		select {
		case <-ctx.Done():
			return 0
		case <-w.CollectorExited():
			why := "the collector exited"
			if err := w.StopCollector(); err != nil {
				why = err.Error()
			}
			con.EndStatus()
			con.Errorf("workshop-local: %s; its log: %s\n", why, filepath.Join(w.LogDir(), "collector.log"))
			return 1
		case <-tick.C:
		}
	}
}
