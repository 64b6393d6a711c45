package lab

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// Dial connects to addr from inside node's namespace, as a process started
// there would: the socket is made on an OS thread that has entered the
// namespace (setns) and is never given back to the scheduler, so the test
// process itself stays where it is. The connection lives on in the namespace.
func (l *Lab) Dial(ctx context.Context, node, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		// No UnlockOSThread: the thread ends with this goroutine, never
		// running other goroutines inside the lab's namespace.
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + l.NS(node))
		if err != nil {
			done <- result{nil, fmt.Errorf("lab: namespace of %s: %w", node, err)}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{nil, fmt.Errorf("lab: entering the namespace of %s: %w", node, err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		done <- result{c, err}
	}()
	r := <-done
	return r.c, r.err
}

// HTTPClient returns an HTTP client whose connections are made inside node's
// namespace (see Dial), for servers that listen on lab addresses.
func (l *Lab) HTTPClient(node string) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return l.Dial(ctx, node, network, addr)
			},
			DisableKeepAlives: true,
		},
	}
}
