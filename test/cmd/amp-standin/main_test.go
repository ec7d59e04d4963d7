package main

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/otelcol-eks/otelcol-eks/test/harness/testenv/childproc"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

var creds = map[string]string{"AWS_ACCESS_KEY_ID": "AKIDMAIN", "AWS_SECRET_ACCESS_KEY": "main-secret"}

func TestRunRefuses(t *testing.T) {
	f := func(args []string, environ map[string]string, wantErr string) {
		t.Helper()
		err := run(context.Background(), args, env(environ), &childproc.SyncBuffer{})
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("run(%v) = %v, want an error containing %q", args, err, wantErr)
		}
	}
	f([]string{"-listen", "0.0.0.0:0"}, creds, "not a loopback address")
	f([]string{"-listen", "127.0.0.1:0"}, nil, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
	f([]string{"-listen", "127.0.0.1:0", "-upstream", "not a url"}, creds, "cannot configure the stand-in")
	f([]string{"-no-such-flag"}, creds, "flag provided but not defined")
	f([]string{"-listen", "127.0.0.1:0", "-ha-dedup", "-ha-failover-timeout", "-1s"}, creds, "HA failover timeout -1s is negative")
}

// TestRunServesAndStops runs the command in-process: it serves, refuses an
// unsigned write with 403, and returns nil once its context ends.
func TestRunServesAndStops(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &childproc.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", addr, "-upstream", "http://127.0.0.1:1/api/v1/write"}, env(creds), logs)
	}()

	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("stand-in not ready: %v; log:\n%s", err, logs)
		}
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	resp, err := http.Post("http://"+addr+"/workspaces/ws/api/v1/remote_write", "application/x-protobuf", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned write answered %d, want 403", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v after cancel, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if l := logs.String(); !strings.Contains(l, "reason=missing_signature") || strings.Contains(l, "main-secret") {
		t.Fatalf("log lacks the rejection or leaks the secret:\n%s", l)
	}
}
