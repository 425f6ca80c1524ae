package media

import (
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// HandleForTest registers h for method through the same dispatch path as the
// real handlers; it must be called before Run.
func HandleForTest(s *Server, method sip.RequestMethod, h sipgo.RequestHandler) {
	s.handle(method, h)
}

// SetTCPIdleTimeoutForTest shortens the TCP idle timeout; it must be called
// before Run.
func SetTCPIdleTimeoutForTest(s *Server, d time.Duration) {
	s.tcpIdle = d
}

// SetNonceLifetimeForTest shortens how long a digest challenge may be answered.
func SetNonceLifetimeForTest(s *Server, d time.Duration) {
	s.nonces.lifetime = d
}
