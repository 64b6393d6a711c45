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
// there would (see inNamespace). The connection lives on in the namespace.
func (l *Lab) Dial(ctx context.Context, node, network, addr string) (net.Conn, error) {
	var c net.Conn
	var err error
	if nsErr := l.inNamespace(node, func() {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, addr)
	}); nsErr != nil {
		return nil, nsErr
	}
	return c, err
}

// Listen listens on addr inside node's namespace (see inNamespace), so that
// a server of the test answers processes there: 127.0.0.1 is then the
// namespace's own loopback. The listener lives on in the namespace.
func (l *Lab) Listen(node, network, addr string) (net.Listener, error) {
	var ln net.Listener
	var err error
	if nsErr := l.inNamespace(node, func() { ln, err = net.Listen(network, addr) }); nsErr != nil {
		return nil, nsErr
	}
	return ln, err
}

// inNamespace runs fn on an OS thread that enters node's namespace (setns)
// for it and returns to its own after it, so the test process itself stays
// where it is; sockets fn makes belong to node's namespace.
func (l *Lab) inNamespace(node string, fn func()) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		own, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("lab: this thread's namespace: %w", err)
			return
		}
		defer own.Close()
		f, err := os.Open("/run/netns/" + l.NS(node))
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("lab: namespace of %s: %w", node, err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("lab: entering the namespace of %s: %w", node, err)
			return
		}
		fn()
		// Back home, the thread may run other goroutines again. Should that
		// fail, it stays locked and ends with this goroutine (the main
		// thread would stay parked in the namespace, and lab.sh down would
		// take the test process for one of the lab's: never seen).
		if unix.Setns(int(own.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		done <- nil
	}()
	return <-done
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
