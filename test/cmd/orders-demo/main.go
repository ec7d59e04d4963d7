// Command orders-demo runs the demo orders service (test/harness/ordersdemo): a
// stand-in for the EKS workshop's orders service that places orders at a
// steady rate and exposes them on /actuator/prometheus.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/otelcol-eks/otelcol-eks/test/harness/ordersdemo"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve on")
	rate := flag.Float64("orders-per-second", 2, "orders placed per second by the load generator (0: none)")
	seed := flag.Uint64("seed", 1, "seed of the load generator's order sequence")
	paused := flag.Bool("paused", false, "start with the load generator paused (POST /resume starts it)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := ordersdemo.Start(ctx, ordersdemo.Config{
		Listen:    *listen,
		Generator: ordersdemo.GeneratorConfig{OrdersPerSecond: *rate, Seed: *seed, Paused: *paused},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "orders-demo: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("orders-demo: serving %s/actuator/prometheus and %s/state (%.3g orders/s)\n", srv.URL(), srv.URL(), *rate)
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "orders-demo: %v\n", err)
		os.Exit(1)
	}
}
