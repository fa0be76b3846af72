package watchdog

import (
	"net"
	"runtime"
	"testing"
)

func TestTuneConnSetsThinLinearTimeouts(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linux only")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := tuneConn(c); err != nil {
		t.Fatal(err)
	}
	on, err := thinLinearTimeouts(c)
	if err != nil || !on {
		t.Errorf("got %v, %v; want the option on", on, err)
	}
}
