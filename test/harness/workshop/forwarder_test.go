package workshop

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestForwarderRelaysHTTP(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(body))
	}))
	defer upstream.Close()
	f, err := startForwarder("127.0.0.1:0", strings.TrimPrefix(upstream.URL, "http://"))
	require.NoError(t, err)

	client := &http.Client{Transport: &http.Transport{}}
	for _, body := range []string{"one", strings.Repeat("x", 1<<20)} {
		resp, err := client.Post("http://"+f.Addr()+"/api/v1/query", "text/plain", strings.NewReader(body))
		require.NoError(t, err)
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, "POST /api/v1/query "+body, string(got))
	}

	// Close ends the kept-alive connection too, and refuses new ones.
	f.Close()
	f.Close()
	_, err = client.Get("http://" + f.Addr() + "/")
	require.Error(t, err)
}
