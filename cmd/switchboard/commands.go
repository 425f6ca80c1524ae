package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"switchboard/activities"
	"switchboard/api"
	"switchboard/channels"
	"switchboard/dispatch"
	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/presence"
	"switchboard/schema"
	"switchboard/telemetry"
	"switchboard/worker"
	"switchboard/workflows"
)

// bootstrapKeyFile is where `dev` keeps the first admin key, so a developer can find it
// after the first start's output has scrolled away.
const bootstrapKeyFile = "bootstrap-admin.key"

// stack is the set of connections every long-running command shares.
type stack struct {
	logger   *slog.Logger
	pool     *pgxpool.Pool
	store    *pgstore.Store
	redis    *redis.Client
	presence *presence.Store
	// feedRedis is the realtime feed's own connection pool: each tenant an API
	// process streams holds one connection in a blocking read, which must not
	// starve presence of connections.
	feedRedis *redis.Client
	events    *events.Feed
	temporal  client.Client
	registry  *prometheus.Registry
	// exportDir is where exports of the interaction history are kept: under the
	// data directory, which the API and the workers share.
	exportDir string
	// ttsDir is where rendered speech is cached: under the data directory.
	ttsDir string
	// webhookAllowPrivate lets webhook deliveries reach private addresses.
	webhookAllowPrivate bool
}

// feedPoolSize bounds the realtime feed's Redis connections per process: one per
// tenant with open streams (connections are opened as needed).
const feedPoolSize = 512

// agentsCacheTTL is how long the worker keeps a queue's agents and their settings
// for its decisions (dispatch.Dispatcher.AgentsTTL).
const agentsCacheTTL = 2 * time.Second

// activities are the worker's activities over the stack's connections.
func (s *stack) activities() *activities.Activities {
	return &activities.Activities{DB: s.pool, Redis: s.redis, Store: s.store, Presence: s.presence, Wake: s.wake, Events: s.events,
		Webhooks: &activities.Webhooks{Store: s.store, Temporal: s.temporal, AllowPrivate: s.webhookAllowPrivate},
		Automations: &activities.Automations{Store: s.store, Temporal: s.temporal, AllowPrivate: s.webhookAllowPrivate,
			Presence: s.presence},
		Dispatcher: &dispatch.Dispatcher{Store: s.store, Presence: s.presence, AgentsTTL: agentsCacheTTL, WakeCallback: s.wakeCallback},
		Channels:   channels.NewRegistry(channels.Options{Test: channels.NewTestAdapter(s.redis, channels.DefaultTestPrefix)}),
		ExportDir:  s.exportDir}
}

// api is the HTTP API over the stack's connections.
func (s *stack) api() *api.Server {
	return api.New(api.Config{Store: s.store, Redis: s.redis, Presence: s.presence, Temporal: s.temporal, Logger: s.logger,
		Registry: s.registry, Wake: s.wake, WakeCallback: s.wakeCallback, Events: s.events, ExportDir: s.exportDir, TTSDir: s.ttsDir,
		PhoneHost: s.phoneHost})
}

// wake signals an interaction workflow that bulk assignment reserved an agent for it.
func (s *stack) wake(ctx context.Context, tenantID, interactionID, agentID string) error {
	err := s.temporal.SignalWorkflow(ctx, workflows.InteractionWorkflowID(interactionID), "",
		workflows.AgentAvailableSignal, workflows.AgentAvailable{AgentID: agentID})
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return dispatch.ErrGone
	}
	return err
}

// wakeCallback signals a self-callback waiting for its agent that bulk assignment
// reserved the agent's voice slot for its call.
func (s *stack) wakeCallback(ctx context.Context, tenantID, callbackID, agentID string) error {
	err := s.temporal.SignalWorkflow(ctx, workflows.CallbackWorkflowID(callbackID), "",
		workflows.CallbackAgentReadySignal, workflows.AgentAvailable{AgentID: agentID})
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return dispatch.ErrGone
	}
	return err
}

func (s *stack) close() {
	if s.temporal != nil {
		s.temporal.Close()
	}
	if s.redis != nil {
		s.redis.Close()
	}
	if s.feedRedis != nil {
		s.feedRedis.Close()
	}
	if s.pool != nil {
		s.pool.Close()
	}
}

// connect opens PostgreSQL, Redis and a Temporal client at temporalAddr.
func connect(ctx context.Context, cfg *config, logger *slog.Logger, temporalAddr string) (*stack, error) {
	s := &stack{logger: logger, registry: telemetry.NewRegistry(), webhookAllowPrivate: cfg.WebhookAllowPrivate}
	if cfg.DataDir != "" {
		s.exportDir = filepath.Join(cfg.DataDir, "exports")
		s.ttsDir = filepath.Join(cfg.DataDir, "tts")
	}
	var err error
	if err = checkPostgres(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	if s.redis, err = connectRedis(ctx, cfg.RedisURL); err != nil {
		return nil, err
	}
	if s.presence, err = presence.New(s.redis, presence.Options{Prefix: presence.DefaultPrefix, HeartbeatTTL: cfg.HeartbeatTTL}); err != nil {
		s.close()
		return nil, err
	}
	if s.feedRedis, err = connectRedisPool(ctx, cfg.RedisURL, feedPoolSize); err != nil {
		s.close()
		return nil, err
	}
	if s.events, err = events.New(s.feedRedis, events.Options{}); err != nil {
		s.close()
		return nil, err
	}
	if s.pool, err = connectPostgres(ctx, cfg.DatabaseURL); err != nil {
		s.close()
		return nil, err
	}
	if err = schema.Check(ctx, s.pool); err != nil {
		s.close()
		return nil, err
	}
	s.store = pgstore.New(s.pool)
	metrics, err := telemetry.NewTemporalMetrics(s.registry)
	if err != nil {
		s.close()
		return nil, err
	}
	if s.temporal, err = dialTemporal(temporalAddr, cfg.TemporalNamespace, logger, metrics); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func runMigrate(ctx context.Context, cfg *config, out io.Writer) error {
	if err := checkPostgres(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	version, err := schema.Migrate(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "database is at schema version %d\n", version)
	return nil
}

func runDev(ctx context.Context, cfg *config, out io.Writer) error {
	logger := newLogger(cfg)
	if err := checkPostgres(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	// Redis is checked before anything slow starts, so a missing one is reported at once.
	rdb, err := connectRedis(ctx, cfg.RedisURL)
	if err != nil {
		return err
	}
	rdb.Close()
	version, err := schema.Migrate(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	logger.Info("database migrated", "version", version)

	temporalAddr := cfg.TemporalAddress
	if temporalAddr == "" {
		addr, stop, err := startEmbeddedTemporal(ctx, cfg, logger)
		if err != nil {
			return err
		}
		defer stop()
		temporalAddr = addr
	}

	s, err := connect(ctx, cfg, logger, temporalAddr)
	if err != nil {
		return err
	}
	defer s.close()
	if err := waitTemporal(ctx, s.temporal, temporalAddr); err != nil {
		return err
	}
	if err := bootstrap(ctx, s.store, cfg.DataDir, out); err != nil {
		return err
	}
	sip, closeMedia, err := s.mediaServer(cfg)
	if err != nil {
		return err
	}
	defer closeMedia()
	httpListener, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("API listener on %s: %w", cfg.HTTPAddr, err)
	}
	// The worker registers the search attributes before the API can start runs that use them.
	if err := worker.EnsureSearchAttributes(ctx, s.temporal, cfg.TemporalNamespace); err != nil {
		httpListener.Close()
		return err
	}

	g, gctx := errgroup.WithContext(ctx)
	if !cfg.NoWorker {
		g.Go(func() error { return worker.Run(gctx, s.temporal, s.activities()) })
		g.Go(func() error { return worker.KeepPresence(gctx, s.store, s.presence, logger) })
	}
	g.Go(func() error { return sip.Run(gctx) })
	g.Go(func() error { return runMediaWorker(gctx, s.temporal, sip) })
	g.Go(func() error { return s.api().Serve(gctx, httpListener) })
	g.Go(func() error {
		select {
		case <-sip.Ready():
			fmt.Fprintf(out, "Switchboard is running.\n  API          http://%s\n  Temporal UI  %s\n  SIP          %s (udp, tcp)\nPress Ctrl-C to stop.\n",
				displayAddr(httpListener.Addr().String()), uiURL(cfg.TemporalUIAddr, cfg.TemporalAddress), cfg.SIPAddr)
		case <-gctx.Done():
		}
		return nil
	})
	<-gctx.Done()
	if ctx.Err() != nil && cfg.TemporalAddress == "" {
		fmt.Fprintln(out, "Stopping; the embedded Temporal server takes a few seconds to drain…")
	}
	began := time.Now()
	err = g.Wait()
	logger.Info("switchboard services stopped", "took", time.Since(began).String())
	return err
}

func runAPI(ctx context.Context, cfg *config, out io.Writer) error {
	logger := newLogger(cfg)
	s, err := connect(ctx, cfg, logger, cfg.temporalAddress())
	if err != nil {
		return err
	}
	defer s.close()
	if err := bootstrap(ctx, s.store, "", out); err != nil {
		return err
	}
	l, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("API listener on %s: %w", cfg.HTTPAddr, err)
	}
	logger.Info("API listening", "addr", l.Addr().String())
	// The API starts runs that carry search attributes, so it registers them too, in the
	// background: it must serve /readyz while the Temporal cluster is still coming up.
	go ensureSearchAttributes(ctx, s.temporal, cfg.TemporalNamespace, logger)
	return s.api().Serve(ctx, l)
}

func runWorker(ctx context.Context, cfg *config, _ io.Writer) error {
	logger := newLogger(cfg)
	s, err := connect(ctx, cfg, logger, cfg.temporalAddress())
	if err != nil {
		return err
	}
	defer s.close()
	if err := waitTemporal(ctx, s.temporal, cfg.temporalAddress()); err != nil {
		return err
	}
	if err := worker.EnsureSearchAttributes(ctx, s.temporal, cfg.TemporalNamespace); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveMetrics(gctx, cfg.MetricsAddr, s.registry, logger) })
	g.Go(func() error { return worker.Run(gctx, s.temporal, s.activities()) })
	g.Go(func() error { return worker.KeepPresence(gctx, s.store, s.presence, logger) })
	logger.Info("worker running", "temporal", cfg.temporalAddress(), "namespace", cfg.TemporalNamespace)
	return g.Wait()
}

func runMedia(ctx context.Context, cfg *config, _ io.Writer) error {
	logger := newLogger(cfg)
	s, err := connect(ctx, cfg, logger, cfg.temporalAddress())
	if err != nil {
		return err
	}
	defer s.close()
	if err := waitTemporal(ctx, s.temporal, cfg.temporalAddress()); err != nil {
		return err
	}
	sip, closeMedia, err := s.mediaServer(cfg)
	if err != nil {
		return err
	}
	defer closeMedia()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveMetrics(gctx, cfg.MetricsAddr, s.registry, logger) })
	g.Go(func() error { return sip.Run(gctx) })
	g.Go(func() error { return runMediaWorker(gctx, s.temporal, sip) })
	logger.Info("media worker running", "sip", cfg.SIPAddr)
	return g.Wait()
}

// bootstrap creates the demo tenant and its admin key on an empty database and tells
// the operator how to use the key. With a data directory (dev) the key is also kept
// in a file readable only by the owner.
func bootstrap(ctx context.Context, store *pgstore.Store, dataDir string, out io.Writer) error {
	created, err := store.Bootstrap(ctx)
	if err != nil {
		return fmt.Errorf("first-run bootstrap: %w", err)
	}
	keyPath := ""
	if dataDir != "" {
		keyPath = filepath.Join(dataDir, bootstrapKeyFile)
	}
	if created == nil {
		if keyPath != "" {
			if _, err := os.Stat(keyPath); err == nil {
				fmt.Fprintf(out, "The first admin API key is in %s\n", keyPath)
			}
		}
		return nil
	}
	secret := created.Key.Secret
	fmt.Fprintf(out, "First start: created tenant %q with platform admin %s.\nAdmin API key (shown once):\n\n    %s\n\n",
		created.Tenant.Slug, created.Admin.Email, secret)
	if keyPath != "" {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(keyPath, []byte(secret+"\n"), 0o600); err != nil {
			return fmt.Errorf("save admin key: %w", err)
		}
		fmt.Fprintf(out, "It is saved in %s. Try:\n    curl -H \"Authorization: Bearer $(cat %s)\" http://127.0.0.1:8080/v1/me\n\n", keyPath, keyPath)
	}
	return nil
}

func displayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func uiURL(uiAddr, external string) string {
	switch {
	case external != "":
		return "(external cluster " + external + ": use its own Web UI)"
	case uiAddr == "":
		return "(disabled)"
	}
	return "http://" + displayAddr(uiAddr)
}

// ensureSearchAttributes retries until the namespace has Switchboard's search
// attributes or ctx ends.
func ensureSearchAttributes(ctx context.Context, c client.Client, namespace string, logger *slog.Logger) {
	for {
		err := worker.EnsureSearchAttributes(ctx, c, namespace)
		if err == nil || ctx.Err() != nil {
			return
		}
		logger.Warn("search attributes not registered yet; retrying", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
}
