// Package api is Switchboard's stateless HTTP API: Echo handlers, authentication,
// validation, health, metrics and the OpenAPI document.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.temporal.io/sdk/client"

	"switchboard/dispatch"
	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/presence"
	"switchboard/telemetry"
	"switchboard/tts"
)

// Config holds what the API needs; every field but Wake is required.
type Config struct {
	Store    *pgstore.Store
	Redis    *redis.Client
	Presence *presence.Store
	Temporal client.Client
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// Wake signals an interaction that bulk assignment reserved an agent for it.
	Wake dispatch.Wake
	// WakeCallback signals a self-callback waiting for its agent that bulk
	// assignment reserved the agent's voice slot for its call.
	WakeCallback dispatch.CallbackWake
	// Events is the realtime feed behind GET /v1/events.
	Events *events.Feed
	// ExportDir is where the workers write exports of the interaction history
	// (the data directory's exports folder, shared with them); empty answers
	// downloads 503.
	ExportDir string
	// TTSDir is where rendered speech is cached (the data directory's tts folder);
	// empty caches under the system's temporary directory.
	TTSDir string
	// PhoneHost finds the media host of an agent's registered phone, which places
	// the agent's outbound calls; nil, or no phone: outbound calls are placed by
	// the channel that reports their outcome.
	PhoneHost func(ctx context.Context, tenantID, agentID string) (host string, ok bool, err error)
}

// Server is the HTTP API.
type Server struct {
	echo     *echo.Echo
	store    *pgstore.Store
	redis    *redis.Client
	presence *presence.Store
	temporal client.Client
	logger   *slog.Logger
	dispatch *dispatch.Dispatcher
	wake     dispatch.Wake
	events   *events.Feed
	// phoneHost is Config.PhoneHost.
	phoneHost func(ctx context.Context, tenantID, agentID string) (string, bool, error)
	// exportDir is Config.ExportDir.
	exportDir string
	// ttsDir is Config.TTSDir; speech renders through the cache in it.
	ttsDir string
	speech *tts.Cache
	// closing is closed when Serve begins to shut down, which ends event streams
	// (they would otherwise hold the drain until its deadline).
	closing   chan struct{}
	closeOnce sync.Once
}

// New builds the API with all routes.
func New(cfg Config) *Server {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	s := &Server{echo: e, store: cfg.Store, redis: cfg.Redis, presence: cfg.Presence, temporal: cfg.Temporal, logger: cfg.Logger,
		dispatch: &dispatch.Dispatcher{Store: cfg.Store, Presence: cfg.Presence, WakeCallback: cfg.WakeCallback}, wake: cfg.Wake,
		events: cfg.Events, exportDir: cfg.ExportDir, ttsDir: cfg.TTSDir, closing: make(chan struct{})}
	s.phoneHost = cfg.PhoneHost
	e.HTTPErrorHandler = s.handleError

	e.Use(
		middleware.RequestID(),
		s.observeRequests(telemetry.NewHTTPMetrics(cfg.Registry)),
		// Innermost, so that a panic becomes an error the log and metrics see as a 500.
		s.recoverPanics,
	)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(telemetry.Handler(cfg.Registry)))
	e.GET("/v1/openapi.json", serveOpenAPI)

	// authenticate is route middleware, not group middleware: Echo runs group middleware
	// through catch-all /v1 and /v1/* not-found routes, and those take precedence over
	// 405, so a wrong method on a real route would answer 401 or 404.
	v1 := e.Group("/v1")
	v1.GET("/me", s.getMe, s.authenticate)
	v1.POST("/tenants", s.createTenant, s.authenticate)
	v1.GET("/tenants", s.listTenants, s.authenticate)
	v1.GET("/tenants/:id", s.getTenant, s.authenticate)
	v1.POST("/users", s.createUser, s.authenticate, requireRole(pgstore.RoleAdmin))
	v1.GET("/users", s.listUsers, s.authenticate, requireRole(pgstore.RoleAdmin, pgstore.RoleSupervisor))
	v1.GET("/users/:id", s.getUser, s.authenticate)
	v1.PATCH("/users/:id", s.updateUser, s.authenticate, requireRole(pgstore.RoleAdmin))
	v1.POST("/api-keys", s.createAPIKey, s.authenticate)
	v1.GET("/api-keys", s.listAPIKeys, s.authenticate)
	v1.DELETE("/api-keys/:id", s.revokeAPIKey, s.authenticate)
	v1.POST("/system/checks", s.runSystemCheck, s.authenticate, requireRole(pgstore.RoleAdmin))
	s.registerACD(v1)
	s.registerCampaigns(v1)
	s.registerSessions(v1)
	s.registerInteractions(v1)
	s.registerLifecycle(v1)
	s.registerSnooze(v1)
	s.registerMessages(v1)
	s.registerEvents(v1)
	s.registerHistory(v1)
	s.registerMonitor(v1)
	s.registerWebhooks(v1)
	s.registerCallbacks(v1)
	s.registerDoNotCall(v1)
	s.registerInternalContacts(v1)
	s.registerCRM(v1)
	s.registerCustomers(v1)
	s.registerJourney(v1)
	s.registerExports(v1)
	s.registerHours(v1)
	s.registerVoiceWaiting(v1)
	s.registerWaiting(v1)
	s.registerSLA(v1)
	s.registerAutomations(v1)
	s.registerMedia(v1)
	s.registerTags(v1)
	s.registerForms(v1)
	s.registerMacros(v1)
	s.registerSurveys(v1)
	return s
}

// Handler is the API as an http.Handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.echo }

// Routes lists "METHOD path" of every route, for the OpenAPI consistency test.
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.echo.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// Serve answers on l until ctx is done, then drains in-flight requests.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	s.closeOnce.Do(func() { close(s.closing) })
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

// observeRequests writes one log line and the HTTP metrics for every request.
func (s *Server) observeRequests(metrics *telemetry.HTTPMetrics) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			status := c.Response().Status
			if err != nil {
				status = toError(err).Status
			}
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			metrics.Observe(c.Request().Method, route, status, time.Since(start))
			s.logRequest(c, status, time.Since(start))
			return err
		}
	}
}

func (s *Server) logRequest(c echo.Context, status int, took time.Duration) {
	attrs := []slog.Attr{
		slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
		slog.String("method", c.Request().Method),
		slog.String("path", c.Request().URL.Path),
		slog.String("route", c.Path()),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(took.Microseconds())/1000),
		slog.String("remote_ip", c.RealIP()),
	}
	if p, ok := principalOf(c); ok {
		attrs = append(attrs, slog.String("tenant_id", p.TenantID), slog.String("user_id", p.UserID))
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	s.logger.LogAttrs(c.Request().Context(), level, "http request", attrs...)
}
