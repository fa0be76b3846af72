package pairtest

import (
	mrand "math/rand/v2"
	"net"
	"strconv"
	"sync"
)

// usedPorts are the ports FreePort handed out, so that parallel tests never
// get the same one.
var usedPorts struct {
	sync.Mutex
	m map[int]bool
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that FreePort never returned before in this process. The ports are below
// the kernel's ephemeral range (32768 and up by default), so that no
// outgoing connection can take one between the moment it is picked and the
// moment it is bound.
func FreePort(t T) int {
	t.Helper()
	usedPorts.Lock()
	defer usedPorts.Unlock()
	if usedPorts.m == nil {
		usedPorts.m = make(map[int]bool)
	}
	for range 1000 {
		port := 20000 + mrand.IntN(12000)
		if usedPorts.m[port] {
			continue
		}
		ln, err := net.Listen("tcp", Loopback(port))
		if err != nil {
			continue
		}
		ln.Close()
		usedPorts.m[port] = true
		return port
	}
	t.Fatalf("free port: none left")
	return 0
}

// Loopback is 127.0.0.1:port.
func Loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
