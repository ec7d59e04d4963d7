package childproc

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// The test binary doubles as the child, so the process handling is tested
// on a real process: CHILDPROC_HELPER selects its behaviour.
func TestMain(m *testing.M) {
	switch os.Getenv("CHILDPROC_HELPER") {
	case "":
		goleak.VerifyTestMain(m)
	case "graceful": // exits 0 on SIGTERM, as the collector does
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM)
		os.Stdout.WriteString("helper running\n")
		<-ch
		os.Stdout.WriteString("helper stopping\n")
		os.Exit(0)
	case "stubborn": // ignores SIGTERM
		signal.Ignore(syscall.SIGTERM)
		os.Stdout.WriteString("helper running\n")
		// Sleep rather than `select {}`: with no other goroutine the
		// runtime would call a bare select a deadlock and exit 2.
		for {
			time.Sleep(time.Hour)
		}
	case "crash":
		os.Stderr.WriteString("error decoding config\n")
		os.Exit(3)
	case "serve": // answers /ready with 200, everything else with 404
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		fmt.Printf("listening on %s\n", ln.Addr())
		mux := http.NewServeMux()
		mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
		_ = http.Serve(ln, mux)
		os.Exit(1)
	}
}

func startHelper(t *testing.T, mode string, logPath string) *Process {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	p, err := Start(Config{
		Name: "helper", Path: self,
		Env:     append(os.Environ(), "CHILDPROC_HELPER="+mode),
		LogPath: logPath,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Stop(time.Second) })
	return p
}

func waitLogged(t *testing.T, p *Process, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.Log(), s) {
		require.True(t, time.Now().Before(deadline), "helper never logged %q; log:\n%s", s, p.Log())
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStopEndsAGracefulChild(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "helper.log")
	p := startHelper(t, "graceful", logPath)
	waitLogged(t, p, "helper running")
	require.NoError(t, p.Err(), "running")
	require.NoError(t, p.Stop(30*time.Second))
	require.Contains(t, p.Log(), "helper stopping")
	require.NoError(t, p.Stop(time.Second), "second stop")
	data, err := os.ReadFile(logPath)
	require.NoError(t, err)
	require.Equal(t, "helper running\nhelper stopping\n", string(data))
}

func TestStopKillsAfterGrace(t *testing.T) {
	p := startHelper(t, "stubborn", "")
	waitLogged(t, p, "helper running")
	start := time.Now()
	err := p.Stop(300 * time.Millisecond)
	require.ErrorContains(t, err, "helper did not stop within 300ms of SIGTERM and was killed")
	require.Less(t, time.Since(start), 10*time.Second)
	select {
	case <-p.Exited():
	default:
		t.Fatal("helper still running after Stop")
	}
	require.ErrorContains(t, p.Err(), "signal: killed")
	require.Equal(t, err, p.Stop(time.Second), "second stop returns the first result")
}

func TestStopReportsAnEarlierFailedExit(t *testing.T) {
	p := startHelper(t, "crash", "")
	select {
	case <-p.Exited():
	case <-time.After(30 * time.Second):
		t.Fatal("helper did not exit")
	}
	require.ErrorContains(t, p.Err(), "exit status 3")
	require.ErrorContains(t, p.Stop(time.Second), "helper exited: exit status 3")
}

func TestWaitHTTPFailsFastWhenTheChildExits(t *testing.T) {
	p := startHelper(t, "crash", "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err := p.WaitHTTP(ctx, Probe{URL: "http://127.0.0.1:1/"})
	require.ErrorContains(t, err, "helper exited during startup (exit status 3)")
	require.ErrorContains(t, err, "error decoding config")
	require.Less(t, time.Since(start), 20*time.Second)
}

func TestWaitHTTP(t *testing.T) {
	p := startHelper(t, "serve", "")
	waitLogged(t, p, "listening on ")
	_, addr, _ := strings.Cut(strings.TrimSpace(p.Log()), "listening on ")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, p.WaitHTTP(ctx, Probe{URL: "http://" + addr + "/ready"}))

	var sawBody string
	err := p.WaitHTTP(ctx, Probe{URL: "http://" + addr + "/ready", OK: func(r *http.Response) bool {
		b := make([]byte, 2)
		_, _ = r.Body.Read(b)
		sawBody = string(b)
		return true
	}})
	require.NoError(t, err)
	require.Equal(t, "ok", sawBody, "OK may read the body")

	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelShort()
	err = p.WaitHTTP(short, Probe{URL: "http://" + addr + "/missing", Interval: 20 * time.Millisecond})
	require.ErrorContains(t, err, "helper not ready at http://"+addr+"/missing (last answer: 404 ")
	require.ErrorContains(t, err, "context deadline exceeded")
	require.ErrorContains(t, err, "its log:\nlistening on "+addr)

	err = p.Stop(10 * time.Second)
	require.ErrorContains(t, err, "helper exited: signal: terminated", "a child dying of SIGTERM did not exit cleanly")
	require.NotContains(t, err.Error(), "was killed")
}

func TestStartFailsForAMissingBinary(t *testing.T) {
	_, err := Start(Config{Path: filepath.Join(t.TempDir(), "missing")})
	require.ErrorContains(t, err, "cannot start missing ")
}

func TestSyncBufferKeepsTheNewestBytes(t *testing.T) {
	b := SyncBuffer{Max: 64}
	_, _ = b.Write([]byte("first\n"))
	require.Equal(t, "first\n", b.String())
	_, _ = b.Write([]byte(strings.Repeat("x", 64)))
	_, _ = b.Write([]byte("last\n"))
	s := b.String()
	require.True(t, strings.HasPrefix(s, "…\n"), s)
	require.True(t, strings.HasSuffix(s, "xlast\n"), s)
	require.Len(t, s, len("…\n")+64)
	require.Equal(t, "…st\n", b.Tail(3))

	var zero SyncBuffer
	big := strings.Repeat("y", DefaultMaxLog)
	_, _ = zero.Write([]byte("z"))
	_, _ = zero.Write([]byte(big))
	require.Len(t, zero.String(), len("…\n")+DefaultMaxLog, "the zero value keeps DefaultMaxLog bytes")
}
