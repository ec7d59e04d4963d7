package loopback

import (
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheck(t *testing.T) {
	f := func(addr, wantErr string) {
		t.Helper()
		err := Check(addr)
		if wantErr == "" {
			require.NoError(t, err, addr)
			return
		}
		require.ErrorContains(t, err, wantErr, addr)
	}
	f("127.0.0.1:9091", "")
	f("127.88.0.5:8080", "")
	f("[::1]:9091", "")
	f("localhost:0", "")
	f(":9091", `address ":9091" is not a loopback address`)
	f("0.0.0.0:0", "is not a loopback address")
	f("10.0.0.1:443", "is not a loopback address")
	f("example.com:443", "is not a loopback address")
	f("127.0.0.1", "cannot parse address")
}

func TestRelisten(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	again, err := Relisten(addr)
	require.NoError(t, err)
	require.Equal(t, addr, again.Addr().String())

	_, err = Relisten("127.0.0.1:-1")
	require.ErrorContains(t, err, "cannot listen on 127.0.0.1:-1 again")
	require.NoError(t, again.Close())
}

func TestFreePorts(t *testing.T) {
	ports, err := FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("ports %v: want 3 distinct positive ports", ports)
		}
		seen[p] = true
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d is not free after FreePorts returned: %v", p, err)
		}
		ln.Close()
	}
}
