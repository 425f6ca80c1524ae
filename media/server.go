// Package media is the media worker of switchboard: its SIP endpoint over UDP
// and TCP on one address. It answers OPTIONS, is the registrar of agents'
// phones (digest authentication, registrations in Redis), rate limits and bans
// abusive sources, and turns away every method it cannot serve.
package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/media/rtpengine"
	"switchboard/pgstore"
)

// DefaultUserAgent is the Server header value used when Config.UserAgent is empty.
const DefaultUserAgent = "switchboard-media"

const (
	// tcpIdleTimeout closes TCP connections that send nothing for this long,
	// so idle or abandoned peers cannot pin file descriptors forever. It is
	// above the 95–120 s CRLF keep-alive interval of RFC 5626 §4.4.1, so
	// peers that keep their flow alive are never cut.
	tcpIdleTimeout = 5 * time.Minute

	// tcpWriteTimeout bounds a write to a peer that stopped reading; without
	// it the handler goroutine writing to it would block forever.
	tcpWriteTimeout = 10 * time.Second

	// shutdownGrace bounds how long Run waits for in-flight handlers, so a
	// stuck handler cannot hold up process exit.
	shutdownGrace = 5 * time.Second
)

// maxUDPPayload is the largest UDP payload over IPv4.
const maxUDPPayload = 65507

// udpLimit raises sipgo's process-wide UDP limit once, before the first Server
// runs (the variable is read unlocked by every transport).
var udpLimit sync.Once

// Config configures a Server.
type Config struct {
	// Addr is the host:port served on both UDP and TCP. The host must be an
	// IP literal, or empty for all interfaces; the port must be explicit.
	Addr string
	// UserAgent is sent in the Server header of every response; empty
	// means DefaultUserAgent.
	UserAgent string
	// Logger receives the server's logs and those of the sipgo stack it
	// builds, except sipgo's package-wide ones (see SetSIPLibraryLogger);
	// nil means slog.Default().
	Logger *slog.Logger

	// Directory finds tenants by SIP domain, agents' SIP secrets and the numbers
	// calls come in on (a *pgstore.Store). Without it (and Registrations) the
	// endpoint is not a registrar: REGISTER is refused like any unknown method.
	Directory Directory
	// Registrations keeps agents' registrations (NewRegistrations over Redis).
	Registrations *Registrations
	// Host names this media host in the registrations it takes; empty: the
	// machine's host name.
	Host string
	// DefaultTenant is the slug of the tenant whose phones name the server by its
	// address rather than by the tenant's domain; empty: none, such phones are
	// refused.
	DefaultTenant string
	// MinExpires and MaxExpires bound a registration's lifetime; zero takes
	// DefaultMinExpires and DefaultMaxExpires.
	MinExpires, MaxExpires time.Duration
	// Limits are the per-source rate limits and bans; zero fields take
	// DefaultLimits.
	Limits Limits
	// Engine is the media plane; with Interactions (and Directory) the endpoint
	// answers INVITEs to the tenants' numbers and rings agents' phones. Without
	// them INVITE is refused like any unknown method.
	Engine       *rtpengine.Engine
	Interactions Interactions
	// Waiting and Speech play answered calls' waiting treatment (their number's
	// voice waiting strategy); nil Waiting: callers wait in silence; nil Speech:
	// text-to-speech parts are not played.
	Waiting WaitingMedia
	Speech  Speech
	// Trunk is the carrier's SIP address outbound calls go to (over UDP); invalid:
	// outbound calls fail.
	Trunk netip.AddrPort
	// AdvertiseIP is the address SDP and Contact headers name; invalid: the
	// listener's when it is specific, else the host's first non-loopback IPv4.
	AdvertiseIP netip.Addr
	// DigestAlgorithms are the digest algorithms challenges offer, in the order
	// offered (pgstore.DigestSHA256, pgstore.DigestMD5); empty: all, SHA-256
	// first. Phones that answer the first challenge whatever its algorithm, and
	// know only MD5, need MD5 first.
	DigestAlgorithms []string
}

// Directory is what the SIP endpoint reads from PostgreSQL.
type Directory interface {
	SIPTenant(ctx context.Context, domain string) (pgstore.Tenant, error)
	SIPSecretFor(ctx context.Context, tenantID, extension string) (pgstore.SIPSecret, error)
	VoiceNumberFor(ctx context.Context, dialled string) (pgstore.VoiceNumber, error)
}

// Server is the SIP endpoint of the media worker.
type Server struct {
	addr      string
	userAgent string
	log       *slog.Logger

	ua  *sipgo.UserAgent
	srv *sipgo.Server

	// methods is in registration order so Allow is stable across responses.
	methods []sip.RequestMethod
	allow   string

	tcpIdle time.Duration

	dir           Directory
	regs          *Registrations
	nonces        *nonces
	guard         *guard
	host          string
	defaultTenant string
	minExpires    time.Duration
	maxExpires    time.Duration
	algorithms    []string

	engine    *rtpengine.Engine
	ix        Interactions
	advertise netip.Addr
	trunk     netip.AddrPort
	waiting   WaitingMedia
	speech    Speech
	port      int
	client    *sipgo.Client
	callsMu   sync.Mutex
	calls     map[string]*call
	byDialog  map[string]*call
	// async counts goroutines that tell workflows of call events or await phones.
	async sync.WaitGroup

	started  atomic.Bool
	ready    chan struct{}
	udpAddr  net.Addr
	tcpAddr  net.Addr
	inflight inflight
}

// NewServer validates cfg and builds the SIP stack; nothing is bound until Run.
func NewServer(cfg Config) (*Server, error) {
	addr, err := validateAddr(cfg.Addr)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "sip")
	name := cfg.UserAgent
	if name == "" {
		name = DefaultUserAgent
	}

	// sipgo refuses to send a UDP datagram over 1300 bytes, which leaves a
	// request with long headers (RFC 4475 §3.1.1.7) unanswered: the answer
	// copies them. A datagram carries up to 64 KiB; IP fragments the rest.
	udpLimit.Do(func() { sip.UDPMTUSize = maxUDPPayload + 200 })

	// sipgo logs events caused by peers (unparsable packets, stray
	// responses) at Error and Info; sipLogHandler brings them to Warn and
	// Debug and bounds the attacker-controlled payload it echoes.
	sipLog := slog.New(sipLogHandler{log.Handler()})
	// The TCP transport is our own (see noDialer), and sipgo v1.7.2 gives a
	// caller-built transport no way to take a logger: its accept and parse
	// logs go to sipgo's package default, which SetSIPLibraryLogger routes.
	tcp := &sip.TransportTCP{DialerCreate: noDialer}

	s := &Server{
		addr:          addr,
		userAgent:     name,
		log:           log,
		tcpIdle:       tcpIdleTimeout,
		ready:         make(chan struct{}),
		dir:           cfg.Directory,
		regs:          cfg.Registrations,
		guard:         newGuard(cfg.Limits),
		host:          cfg.Host,
		defaultTenant: cfg.DefaultTenant,
		minExpires:    cfg.MinExpires,
		maxExpires:    cfg.MaxExpires,
	}
	if s.host == "" {
		if s.host, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("media: Config.Host is empty and the host name is unknown: %w", err)
		}
	}
	if s.minExpires <= 0 {
		s.minExpires = DefaultMinExpires
	}
	if s.maxExpires <= 0 {
		s.maxExpires = DefaultMaxExpires
	}
	if s.minExpires > s.maxExpires {
		return nil, fmt.Errorf("media: MinExpires %v is above MaxExpires %v", s.minExpires, s.maxExpires)
	}
	if (s.dir == nil) != (s.regs == nil) {
		return nil, errors.New("media: Config.Directory and Config.Registrations go together")
	}
	if s.algorithms, err = digestAlgorithms(cfg.DigestAlgorithms); err != nil {
		return nil, err
	}
	if s.nonces, err = newNonces(); err != nil {
		return nil, err
	}
	s.engine, s.ix, s.trunk, s.waiting, s.speech = cfg.Engine, cfg.Interactions, cfg.Trunk, cfg.Waiting, cfg.Speech
	s.advertise, s.port = advertiseAddr(cfg.AdvertiseIP, addr), portOf(addr)
	s.calls, s.byDialog = map[string]*call{}, map[string]*call{}

	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent(name),
		sipgo.WithUserAgentDNSResolver(noDNSResolver),
		sipgo.WithUserAgentTransportLayerOptions(
			sip.WithTransportLayerLogger(sipLog),
			sip.WithTransportLayerTransports(sip.TransportsConfig{TCP: tcp}),
		),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(sipLog),
			sip.WithTransactionLayerUnhandledResponseHandler(s.onStrayResponse),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("media: create SIP user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(sipLog))
	if err != nil {
		_ = ua.Close()
		return nil, fmt.Errorf("media: create SIP server: %w", err)
	}
	s.ua, s.srv = ua, srv
	if s.client, err = sipgo.NewClient(ua, sipgo.WithClientHostname(s.advertise.String()), sipgo.WithClientPort(s.port),
		sipgo.WithClientLogger(sipLog)); err != nil {
		_ = ua.Close()
		return nil, fmt.Errorf("media: create SIP client: %w", err)
	}

	s.handle(sip.OPTIONS, s.onOptions)
	s.handle(sip.ACK, s.onAck)
	s.handle(sip.CANCEL, s.onCancel)
	if s.dir != nil {
		s.handle(sip.REGISTER, s.onRegister)
	}
	if s.callsEnabled() {
		s.handle(sip.INVITE, s.onInvite)
		s.handle(sip.BYE, s.onBye)
	}
	srv.OnNoRoute(s.dispatch(s.onNotAllowed))
	return s, nil
}

// validateAddr insists on an IP literal because a name could resolve to
// different addresses for the UDP and the TCP bind.
func validateAddr(addr string) (string, error) {
	if addr == "" {
		return "", errors.New("media: Config.Addr is empty; want host:port, e.g. 127.0.0.1:5060 or :5060")
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("media: invalid Config.Addr %q: want host:port: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return "", fmt.Errorf("media: invalid Config.Addr %q: port must be a number in 1-65535 (0 is refused because UDP and TCP must share one port)", addr)
	}
	if host != "" {
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return "", fmt.Errorf("media: invalid Config.Addr %q: host must be an IP literal or empty for all interfaces", addr)
		}
		host = ip.String()
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// handle must only be called before Run: sipgo's handler map is not locked.
func (s *Server) handle(method sip.RequestMethod, h sipgo.RequestHandler) {
	if s.started.Load() {
		panic("media: handler registered after Run")
	}
	s.srv.OnRequest(method, s.dispatch(h))
	for _, m := range s.methods {
		if m == method {
			return
		}
	}
	s.methods = append(s.methods, method)
	s.allow = joinMethods(s.methods)
}

func joinMethods(ms []sip.RequestMethod) string {
	var b []byte
	for i, m := range ms {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, m...)
	}
	return string(b)
}

// Ready is closed once both the UDP and the TCP listener are bound.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// UDPAddr is the bound UDP address; nil until Ready is closed.
func (s *Server) UDPAddr() net.Addr {
	select {
	case <-s.ready:
		return s.udpAddr
	default:
		return nil
	}
}

// TCPAddr is the bound TCP address; nil until Ready is closed.
func (s *Server) TCPAddr() net.Addr {
	select {
	case <-s.ready:
		return s.tcpAddr
	default:
		return nil
	}
}

// Run serves SIP on UDP and TCP until ctx is cancelled, then shuts down and
// returns nil. It fails if a listener cannot bind or dies, and may be
// called only once.
func (s *Server) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("media: Server.Run called more than once")
	}

	var lc net.ListenConfig
	udpConn, err := lc.ListenPacket(ctx, "udp", s.addr)
	if err != nil {
		_ = s.ua.Close()
		return fmt.Errorf("media: SIP listen on UDP %s: %w", s.addr, err)
	}
	tcpLn, err := lc.Listen(ctx, "tcp", s.addr)
	if err != nil {
		_ = udpConn.Close()
		_ = s.ua.Close()
		return fmt.Errorf("media: SIP listen on TCP %s: %w", s.addr, err)
	}
	s.udpAddr, s.tcpAddr = udpConn.LocalAddr(), tcpLn.Addr()

	stopping := make(chan struct{})
	ln := &tcpListener{
		Listener:     tcpLn,
		log:          s.log,
		stopping:     stopping,
		idleTimeout:  s.tcpIdle,
		writeTimeout: tcpWriteTimeout,
	}

	type served struct {
		network string
		err     error
	}
	done := make(chan served, 2)
	go func() { done <- served{"UDP", s.srv.ServeUDP(udpConn)} }()
	go func() { done <- served{"TCP", s.srv.ServeTCP(ln)} }()

	close(s.ready)
	s.log.Info("SIP listening", "udp", s.udpAddr.String(), "tcp", s.tcpAddr.String(), "user_agent", s.userAgent)

	var runErr error
	pending := 2
	select {
	case <-ctx.Done():
	case r := <-done:
		pending--
		// sipgo's UDP reader returns nil on a fatal read error, so any
		// return before cancellation means that transport stopped serving.
		runErr = fmt.Errorf("media: SIP %s listener on %s stopped unexpectedly: %v", r.network, s.addr, r.err)
	}

	start := time.Now()
	close(stopping)
	_ = udpConn.Close()
	_ = tcpLn.Close()
	for ; pending > 0; pending-- {
		<-done
	}
	s.hangupAll()
	// Closing the UA terminates transactions and closes accepted TCP
	// connections; only then can no new request reach a handler.
	_ = s.ua.Close()
	if !s.inflight.closeAndWait(shutdownGrace) {
		s.log.Warn("SIP handlers still running after shutdown grace period", "grace", shutdownGrace)
	}
	s.log.Info("SIP stopped", "took", time.Since(start))
	return runErr
}

func (s *Server) onStrayResponse(res *sip.Response) {
	s.log.Debug("SIP response matches no transaction; dropped", "response", res.Short(), "source", res.Source())
}

// errNoOutbound is returned to sipgo when it tries to reach out on its own.
var errNoOutbound = errors.New("media: SIP endpoint opens no outbound TCP connection and resolves no name")

// noDialer stops sipgo from dialing. When the TCP connection a request came
// on is gone, sipgo opens a new one to the host in the top Via rather than
// the source IP (RFC 3261 §18.2.2), so any peer could make this server
// connect to, and send a SIP response to, an address of its choosing. The
// endpoint has no reason to dial until calls exist; the call task must
// replace this with a policy that never trusts Via for responses.
func noDialer(laddr net.Addr) net.Dialer {
	return net.Dialer{
		LocalAddr: laddr,
		Timeout:   time.Second,
		// Runs before connect, so not even a SYN leaves.
		ControlContext: func(context.Context, string, string, syscall.RawConn) error { return errNoOutbound },
	}
}

// noDNSResolver answers from /etc/hosts only: the same sipgo fallback
// resolves a Via host name, which would let a peer trigger DNS queries.
var noDNSResolver = &net.Resolver{
	PreferGo: true,
	Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errNoOutbound
	},
}

// inflight lets shutdown wait for running handlers. A WaitGroup would do,
// except that Add racing Wait at zero is forbidden and requests can still
// arrive while Run shuts down.
type inflight struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{}
}

func (f *inflight) enter() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.n++
	return true
}

func (f *inflight) leave() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 && f.idle != nil {
		close(f.idle)
		f.idle = nil
	}
}

func (f *inflight) closeAndWait(timeout time.Duration) bool {
	f.mu.Lock()
	f.closed = true
	if f.n == 0 {
		f.mu.Unlock()
		return true
	}
	idle := make(chan struct{})
	f.idle = idle
	f.mu.Unlock()

	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-idle:
		return true
	case <-t.C:
		return false
	}
}
