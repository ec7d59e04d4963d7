// Command amp-standin is a local stand-in for Amazon Managed Service for
// Prometheus: it checks the SigV4 signature of each remote-write request as
// AMP does and forwards good ones to a Prometheus remote-write receiver
// (prometheus --web.enable-remote-write-receiver). See package
// test/harness/ampstandin.
//
//	AWS_ACCESS_KEY_ID=AKIDLOCAL AWS_SECRET_ACCESS_KEY=local-secret \
//	  amp-standin -listen 127.0.0.1:9091 -upstream http://127.0.0.1:9090/api/v1/write
//
// Point the collector's exporter at
// http://127.0.0.1:9091/workspaces/ws-local/api/v1/remote_write with the
// same credentials. Counters: GET /stats (JSON) and GET /metrics.
// -ha-dedup deduplicates HA pairs as AMP does (a leader per `cluster`,
// `__replica__` stripped, failover after -ha-failover-timeout of silence).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/otelcol-eks/otelcol-eks/test/harness/ampstandin"

	"github.com/otelcol-eks/otelcol-eks/test/harness/loopback"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "amp-standin:", err)
		stop()
		os.Exit(1)
	}
}

// run parses args, serves until ctx ends, then shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, logOut io.Writer) error {
	fs := flag.NewFlagSet("amp-standin", flag.ContinueOnError)
	fs.SetOutput(logOut)
	defaultRegion := getenv("AWS_REGION")
	if defaultRegion == "" {
		defaultRegion = "us-west-2"
	}
	listen := fs.String("listen", "127.0.0.1:9091", "address to listen on (loopback only unless -allow-non-loopback)")
	upstream := fs.String("upstream", "http://127.0.0.1:9090/api/v1/write", "Prometheus remote-write endpoint good requests are forwarded to")
	region := fs.String("region", defaultRegion, "region requests must be signed for (default: $AWS_REGION, else us-west-2)")
	service := fs.String("service", "aps", "service requests must be signed for")
	maxSkew := fs.Duration("max-skew", 0, "accepted clock skew of X-Amz-Date (0: 5m, as AWS)")
	logInterval := fs.Duration("log-interval", ampstandin.DefaultLogInterval, "least time between two logs of one rejection reason")
	allowNonLoopback := fs.Bool("allow-non-loopback", false, "allow listening on a non-loopback address")
	haDedup := fs.Bool("ha-dedup", false, "deduplicate HA pairs as AMP does (cluster and __replica__ labels: one leader per cluster)")
	haFailover := fs.Duration("ha-failover-timeout", ampstandin.DefaultFailoverTimeout, "with -ha-dedup: how long a leader may be silent before another replica takes over")
	if err := fs.Parse(args); err != nil {
		return err
	}

	if !*allowNonLoopback {
		if err := loopback.Check(*listen); err != nil {
			return fmt.Errorf("%w (use -allow-non-loopback to override)", err)
		}
	}
	creds := aws.Credentials{
		AccessKeyID:     getenv("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken:    getenv("AWS_SESSION_TOKEN"),
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set to the credentials to accept")
	}
	logger := slog.New(slog.NewTextHandler(logOut, nil))
	proxy, err := ampstandin.New(ampstandin.Config{
		Upstream:    *upstream,
		Credentials: creds,
		Region:      *region,
		Service:     *service,
		MaxSkew:     *maxSkew,
		Logger:      logger,
		LogInterval: *logInterval,
		HA:          ampstandin.HAConfig{Enabled: *haDedup, FailoverTimeout: *haFailover},
	})
	if err != nil {
		return fmt.Errorf("cannot configure the stand-in: %w", err)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("cannot listen: %w", err)
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("AMP stand-in listening", "address", ln.Addr().String(),
		"remote_write_url", "http://"+ln.Addr().String()+"/workspaces/ws-local"+ampstandin.AMPWritePathSuffix,
		"upstream", *upstream, "region", *region, "service", *service, "access_key_id", creds.AccessKeyID,
		"ha_dedup", *haDedup, "ha_failover_timeout", *haFailover)

	select {
	case err := <-errc:
		return fmt.Errorf("cannot serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("cannot shut down cleanly: %w", err)
	}
	return nil
}
