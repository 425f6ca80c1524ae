package media

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"time"
)

// tcpListener exists because sipgo's TCP accept loop returns on the first
// Accept error: one EMFILE or ECONNABORTED would stop TCP for good while
// the process kept running. It retries transient errors with backoff, as
// net/http does, and wraps each connection with deadlines.
type tcpListener struct {
	net.Listener
	log          *slog.Logger
	stopping     <-chan struct{}
	idleTimeout  time.Duration
	writeTimeout time.Duration
}

func (l *tcpListener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			return &deadlineConn{Conn: c, idle: l.idleTimeout, write: l.writeTimeout, log: l.log}, nil
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		select {
		case <-l.stopping:
			return nil, err
		default:
		}
		if delay == 0 {
			delay = 5 * time.Millisecond
		} else if delay *= 2; delay > time.Second {
			delay = time.Second
		}
		l.log.Warn("SIP TCP accept failed; retrying", "error", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-l.stopping:
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

// deadlineConn gives every read an idle deadline and every write a write
// deadline; sipgo sets neither by default.
type deadlineConn struct {
	net.Conn
	idle  time.Duration
	write time.Duration
	log   *slog.Logger
}

func (c *deadlineConn) Read(b []byte) (int, error) {
	if c.idle > 0 {
		if err := c.Conn.SetReadDeadline(time.Now().Add(c.idle)); err != nil {
			return 0, err
		}
	}
	n, err := c.Conn.Read(b)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		// sipgo logs any read error but EOF as an error; an idle peer
		// being dropped is routine.
		c.log.Debug("SIP TCP connection idle; closing", "remote", c.RemoteAddr().String(), "idle", c.idle)
		return n, io.EOF
	}
	return n, err
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	if c.write > 0 {
		if err := c.Conn.SetWriteDeadline(time.Now().Add(c.write)); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(b)
}
