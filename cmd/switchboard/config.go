package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Bounds of the heartbeat TTL: shorter would log agents out on one slow
// request; longer would leave a closed desktop online for too long.
const (
	minHeartbeatTTL = time.Second
	maxHeartbeatTTL = time.Hour
)

// config is every setting of every subcommand; each comes from a flag, else from its
// SWITCHBOARD_* environment variable, else from a default that works on a laptop.
type config struct {
	DatabaseURL       string
	RedisURL          string
	TemporalAddress   string
	TemporalNamespace string
	EmbeddedTemporal  string
	TemporalUIAddr    string
	// EmbeddedTemporalConnsText bounds each store of the embedded server;
	// EmbeddedTemporalConns is it parsed.
	EmbeddedTemporalConnsText string
	EmbeddedTemporalConns     int
	HTTPAddr                  string
	SIPAddr                   string
	MetricsAddr               string
	DataDir                   string
	LogLevel                  string
	HeartbeatTTLText          string
	// HeartbeatTTL is HeartbeatTTLText parsed.
	HeartbeatTTL time.Duration
	// WebhookAllowPrivateText lets webhook deliveries reach loopback and private
	// addresses; WebhookAllowPrivate is it parsed.
	WebhookAllowPrivateText string
	WebhookAllowPrivate     bool
	// NoWorker starts `dev` without its worker, for tests that run `worker` on
	// its own beside it (and stop and restart it).
	NoWorker bool

	// MediaHost names this media host: its registrations and its task queue.
	MediaHost string
	// SIPDefaultTenant is the slug of the tenant of phones that name the SIP server by
	// its address; SIPTrustedText the sources exempt from SIP rate limits, parsed
	// into SIPTrusted.
	SIPDefaultTenant string
	SIPTrustedText   string
	SIPTrusted       []netip.Prefix
	// SIPDigestText lists the digest algorithms of SIP challenges, in order.
	SIPDigestText string
	// SIPAdvertiseText is the address SDP and Contact headers name, parsed into
	// SIPAdvertise.
	SIPAdvertiseText string
	SIPAdvertise     netip.Addr
	// SIPTrunkText is the carrier trunk of outbound calls, parsed into SIPTrunk.
	SIPTrunkText string
	SIPTrunk     netip.AddrPort
}

type setting struct {
	target *string
	flag   string
	env    string
	def    string
	usage  string
}

func (c *config) settings() []setting {
	return []setting{
		{&c.DatabaseURL, "database-url", "SWITCHBOARD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/switchboard?sslmode=disable", "PostgreSQL URL; the database is created if missing"},
		{&c.RedisURL, "redis-url", "SWITCHBOARD_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis URL"},
		{&c.TemporalAddress, "temporal-address", "SWITCHBOARD_TEMPORAL_ADDRESS", "", "Temporal frontend host:port; `dev` embeds a server when empty, other commands default to 127.0.0.1:7233"},
		{&c.TemporalNamespace, "temporal-namespace", "SWITCHBOARD_TEMPORAL_NAMESPACE", "default", "Temporal namespace"},
		{&c.EmbeddedTemporal, "embedded-temporal-addr", "SWITCHBOARD_EMBEDDED_TEMPORAL_ADDR", "127.0.0.1:7233", "dev: where the embedded Temporal frontend listens"},
		{&c.EmbeddedTemporalConnsText, "embedded-temporal-db-conns", "SWITCHBOARD_EMBEDDED_TEMPORAL_DB_CONNS", "20", "dev: PostgreSQL connections of each of the embedded Temporal server's two stores (1 to 200)"},
		{&c.TemporalUIAddr, "temporal-ui-addr", "SWITCHBOARD_TEMPORAL_UI_ADDR", "127.0.0.1:8233", "dev: where the embedded Temporal Web UI listens; empty disables it"},
		{&c.HTTPAddr, "http-addr", "SWITCHBOARD_HTTP_ADDR", ":8080", "HTTP API listen address"},
		{&c.SIPAddr, "sip-addr", "SWITCHBOARD_SIP_ADDR", ":5060", "SIP listen address (UDP and TCP)"},
		{&c.MediaHost, "media-host", "SWITCHBOARD_MEDIA_HOST", "", "media: this media host's name, unique among media hosts (registrations and its task queue); empty: the machine's host name"},
		{&c.SIPDefaultTenant, "sip-default-tenant", "SWITCHBOARD_SIP_DEFAULT_TENANT", "", "media: slug of the tenant whose phones register with the server's address as SIP domain instead of the tenant's slug"},
		{&c.SIPTrustedText, "sip-trusted", "SWITCHBOARD_SIP_TRUSTED", "", "media: comma-separated addresses or CIDR prefixes (carrier trunks, a load balancer) exempt from the SIP rate limits and bans"},
		{&c.SIPDigestText, "sip-digest-algorithms", "SWITCHBOARD_SIP_DIGEST_ALGORITHMS", "SHA-256,MD5", "media: digest algorithms the registrar challenges with, in order (SHA-256, MD5); put MD5 first for phones that answer only the first challenge and know only MD5"},
		{&c.SIPAdvertiseText, "sip-advertise-ip", "SWITCHBOARD_SIP_ADVERTISE_IP", "", "media: the IP address SDP and Contact headers give peers for this host (its public address behind NAT); empty: the SIP listener's if specific, else the host's first non-loopback IPv4"},
		{&c.SIPTrunkText, "sip-trunk", "SWITCHBOARD_SIP_TRUNK", "", "media: IP:port of the carrier's SIP gateway that outbound calls go to over UDP; empty: outbound calls of agents with a registered phone fail"},
		{&c.MetricsAddr, "metrics-addr", "SWITCHBOARD_METRICS_ADDR", ":9090", "worker and media: /metrics and /healthz listen address"},
		{&c.DataDir, "data-dir", "SWITCHBOARD_DATA_DIR", ".data", "directory for local state (recordings, dev credentials)"},
		{&c.LogLevel, "log-level", "SWITCHBOARD_LOG_LEVEL", "info", "debug, info, warn or error"},
		{&c.WebhookAllowPrivateText, "webhook-allow-private", "SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE", "false", "worker: let webhook deliveries reach loopback and private network addresses (true for receivers on this machine or network; false refuses them, against request forgery)"},
		{&c.HeartbeatTTLText, "heartbeat-ttl", "SWITCHBOARD_HEARTBEAT_TTL", "30s", "how long an agent stays present after a login or heartbeat (e.g. 30s, 1m)"},
	}
}

// parse fills c from args and the environment.
func (c *config) parse(cmd string, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("switchboard "+cmd, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	for _, s := range c.settings() {
		def := s.def
		if v := getenv(s.env); v != "" {
			def = v
		}
		fs.StringVar(s.target, s.flag, def, s.usage+" ($"+s.env+")")
	}
	if cmd == "dev" {
		fs.BoolVar(&c.NoWorker, "no-worker", false, "run without the Temporal worker; start `switchboard worker` separately (tests)")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log level %q: use debug, info, warn or error", c.LogLevel)
	}
	ttl, err := time.ParseDuration(c.HeartbeatTTLText)
	if err != nil || ttl < minHeartbeatTTL || ttl > maxHeartbeatTTL {
		return fmt.Errorf("heartbeat TTL %q: use a duration from %v to %v, such as 30s", c.HeartbeatTTLText, minHeartbeatTTL, maxHeartbeatTTL)
	}
	c.HeartbeatTTL = ttl
	if c.SIPTrusted, err = parsePrefixes(c.SIPTrustedText); err != nil {
		return fmt.Errorf("sip-trusted: %w", err)
	}
	c.SIPTrunk = netip.AddrPort{}
	if c.SIPTrunkText != "" {
		if c.SIPTrunk, err = netip.ParseAddrPort(c.SIPTrunkText); err != nil {
			return fmt.Errorf("sip-trunk %q: want IP:port, such as 203.0.113.10:5060", c.SIPTrunkText)
		}
	}
	c.SIPAdvertise = netip.Addr{}
	if c.SIPAdvertiseText != "" {
		if c.SIPAdvertise, err = netip.ParseAddr(c.SIPAdvertiseText); err != nil {
			return fmt.Errorf("sip-advertise-ip %q: want an IP address", c.SIPAdvertiseText)
		}
	}
	c.EmbeddedTemporalConns, err = strconv.Atoi(c.EmbeddedTemporalConnsText)
	if err != nil || c.EmbeddedTemporalConns < 1 || c.EmbeddedTemporalConns > 200 {
		return fmt.Errorf("embedded-temporal-db-conns %q: use a whole number from 1 to 200", c.EmbeddedTemporalConnsText)
	}
	if c.WebhookAllowPrivate, err = strconv.ParseBool(c.WebhookAllowPrivateText); err != nil {
		return fmt.Errorf("webhook-allow-private %q: use true or false", c.WebhookAllowPrivateText)
	}
	return nil
}

// parsePrefixes reads comma-separated addresses and CIDR prefixes.
func parsePrefixes(text string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(text, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if a, err := netip.ParseAddr(part); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR prefix such as 203.0.113.0/24", part)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// temporalAddress is the cluster to dial in the commands that never embed one.
func (c *config) temporalAddress() string {
	if c.TemporalAddress == "" {
		return "127.0.0.1:7233"
	}
	return c.TemporalAddress
}
