package devserver

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"time"
)

func splitHostPort(addr string) (string, int, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number between 1 and 65535", portText)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return host, port, nil
}

// ensurePortFree turns "address already in use" into a message naming the address,
// before the server or UI would otherwise exit the process from deep inside.
func ensurePortFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s (is another Switchboard or Temporal running?): %w", addr, err)
	}
	return l.Close()
}

// freePorts reserves n distinct ports for the server's internal services. They are
// drawn below 32768 because the server stores membership ports in a smallint column,
// and the kernel's ephemeral range (":0") lies above it.
func freePorts(host string, n int) ([]int, error) {
	const low, high = 16000, 32000
	ports := make([]int, 0, n)
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for attempt := 0; len(ports) < n; attempt++ {
		if attempt > 1000 {
			return nil, fmt.Errorf("no %d free ports between %d and %d", n, low, high)
		}
		port := low + rand.IntN(high-low)
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			continue
		}
		listeners = append(listeners, l)
		ports = append(ports, port)
	}
	return ports, nil
}

func waitListening(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not start listening: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
