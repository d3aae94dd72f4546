package zmtp

import (
	"context"
	"fmt"
	"net"
	"strings"
)

// SplitEndpoint turns a ZeroMQ endpoint into a Go network and address:
// tcp://host:port (host "*" means every interface) or ipc:///path.
func SplitEndpoint(ep string) (network, addr string, err error) {
	switch {
	case strings.HasPrefix(ep, "tcp://"):
		host, port, err := net.SplitHostPort(strings.TrimPrefix(ep, "tcp://"))
		if err != nil {
			return "", "", fmt.Errorf("endpoint %q: %w", ep, err)
		}
		if host == "*" {
			host = ""
		}
		return "tcp", net.JoinHostPort(host, port), nil
	case strings.HasPrefix(ep, "ipc://") && len(ep) > len("ipc://"):
		return "unix", strings.TrimPrefix(ep, "ipc://"), nil
	}
	return "", "", fmt.Errorf("endpoint %q: want tcp://host:port or ipc://path", ep)
}

// Dial connects to a ZeroMQ endpoint.
func Dial(ctx context.Context, ep string) (net.Conn, error) {
	network, addr, err := SplitEndpoint(ep)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// Listen binds a ZeroMQ endpoint (port 0 picks a free port).
func Listen(ep string) (net.Listener, error) {
	network, addr, err := SplitEndpoint(ep)
	if err != nil {
		return nil, err
	}
	return net.Listen(network, addr)
}

// EndpointOf formats a listener's or connection's address as a ZeroMQ
// endpoint.
func EndpointOf(a net.Addr) string {
	if a.Network() == "unix" {
		return "ipc://" + a.String()
	}
	return "tcp://" + a.String()
}
