// Package devserver runs an embedded Temporal server, persisted in PostgreSQL, and the
// Temporal Web UI inside the Switchboard process. `switchboard dev` and the integration
// tests use it; production points the other subcommands at a Temporal cluster instead.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"

	sbschema "switchboard/schema"
)

// Config describes the embedded server.
type Config struct {
	// DatabaseURL is Switchboard's own PostgreSQL URL. The server keeps its state in two
	// sibling databases named <database>_temporal and <database>_temporal_visibility.
	DatabaseURL string
	// FrontendAddr is where the gRPC frontend listens (host:port).
	FrontendAddr string
	// UIAddr is where the Web UI listens (host:port); empty disables the UI.
	UIAddr string
	// Namespace is created at start if it does not exist.
	Namespace string
	// Retention is how long closed runs stay visible in the namespace.
	Retention time.Duration
	// Logger receives Switchboard's own messages about the server.
	Logger *slog.Logger
	// LogLevel is the server's own log level (debug, info, warn, error); warn by default.
	LogLevel string
	// MaxConns bounds the PostgreSQL connections of each of the server's two stores
	// (0 means DefaultMaxConns). Several servers on one PostgreSQL, as in tests, take
	// fewer so they stay under its max_connections.
	MaxConns int
}

// DefaultMaxConns is a store's connection limit when Config.MaxConns is 0.
const DefaultMaxConns = 20

// Server is a running embedded Temporal server and its Web UI.
type Server struct {
	cfg      Config
	temporal temporal.Server
	ui       *uiserver.Server
	uiDone   chan struct{}
	// stopping is set once Stop begins (stopSafeLogger reads it).
	stopping *atomic.Bool
}

// numHistoryShards is fixed for the life of the database: changing it later requires a
// new database. Four shards keep a laptop busy in parallel without idle overhead.
const numHistoryShards = 4

// Start prepares the databases, starts the server, waits until its frontend answers and
// makes sure the namespace exists. The returned server must be stopped with Stop.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	if cfg.Retention == 0 {
		cfg.Retention = 7 * 24 * time.Hour
	}
	pg, err := sbschema.ConnConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	frontendHost, frontendPort, err := splitHostPort(cfg.FrontendAddr)
	if err != nil {
		return nil, fmt.Errorf("temporal frontend address %q: %w", cfg.FrontendAddr, err)
	}
	if err := ensurePortFree(cfg.FrontendAddr); err != nil {
		return nil, err
	}
	if cfg.UIAddr != "" {
		if err := ensurePortFree(cfg.UIAddr); err != nil {
			return nil, err
		}
	}

	stopping := &atomic.Bool{}
	logger := stopSafeLogger{Logger: newLogger(cfg.LogLevel), stopping: stopping}
	stores := map[string]*config.SQL{
		"default":    sqlStore(pg, pg.Database+"_temporal", cfg.MaxConns),
		"visibility": sqlStore(pg, pg.Database+"_temporal_visibility", cfg.MaxConns),
	}
	if err := prepareSchemas(stores, logger); err != nil {
		return nil, err
	}

	serverCfg, err := buildConfig(stores, frontendHost, frontendPort)
	if err != nil {
		return nil, err
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(serverCfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(dynamicconfig.StaticClient{
			// Search attributes registered at start must be usable by the very next
			// request, not after the cache refresh interval.
			dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
			// Switchboard uses no Nexus endpoints; off, the server does not warn about
			// its missing HTTP port at every start.
			dynamicconfig.EnableNexus.Key(): false,
			// One partition per task queue: with several, a task lands in a partition
			// no poller of this single machine is waiting on and waits to be
			// forwarded, which made workflow tasks queue for seconds under load.
			dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  1,
			dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): 1,
			// A worker takes the activities its own workflow tasks schedule at once
			// (eager activities), without a round trip through the task queue.
			dynamicconfig.EnableActivityEagerExecution.Key(): true,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("create temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("start temporal server: %w", err)
	}
	s := &Server{cfg: cfg, temporal: srv, stopping: stopping}
	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	if cfg.UIAddr != "" {
		if err := s.startUI(); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

// FrontendAddr is the host:port clients dial.
func (s *Server) FrontendAddr() string { return s.cfg.FrontendAddr }

// Stop shuts the UI and the server down.
func (s *Server) Stop() {
	s.stopping.Store(true)
	began := time.Now()
	if s.ui != nil {
		s.ui.Stop()
		<-s.uiDone
	}
	defer func() { s.cfg.Logger.Info("embedded Temporal server stopped", "took", time.Since(began).String()) }()
	if err := s.temporal.Stop(); err != nil {
		s.cfg.Logger.Warn("temporal server stop", "error", err)
	}
}

func (s *Server) waitReady(ctx context.Context) error {
	c, err := client.NewLazyClient(client.Options{
		HostPort:  s.cfg.FrontendAddr,
		Namespace: s.cfg.Namespace,
		Logger:    sdklog.NewStructuredLogger(s.cfg.Logger.With("component", "temporal-client")),
	})
	if err != nil {
		return fmt.Errorf("temporal client: %w", err)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		err = s.ensureNamespace(ctx, c)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("temporal frontend at %s not ready: %w", s.cfg.FrontendAddr, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (s *Server) ensureNamespace(ctx context.Context, c client.Client) error {
	svc := c.WorkflowService()
	_, err := svc.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: s.cfg.Namespace})
	var notFound *serviceerror.NamespaceNotFound
	if err == nil || !errors.As(err, &notFound) {
		return err
	}
	_, err = svc.RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        s.cfg.Namespace,
		Description:                      "Switchboard",
		WorkflowExecutionRetentionPeriod: durationpb.New(s.cfg.Retention),
	})
	var exists *serviceerror.NamespaceAlreadyExists
	if errors.As(err, &exists) {
		return nil
	}
	return err
}

func (s *Server) startUI() error {
	host, port, err := splitHostPort(s.cfg.UIAddr)
	if err != nil {
		return fmt.Errorf("temporal UI address %q: %w", s.cfg.UIAddr, err)
	}
	cfg := &uiconfig.Config{
		Host:                host,
		Port:                port,
		TemporalGRPCAddress: s.cfg.FrontendAddr,
		EnableUI:            true,
		DefaultNamespace:    s.cfg.Namespace,
		HideLogs:            true,
		// The UI is served over plain HTTP on loopback; a Secure CSRF cookie would
		// never come back and every write action in the UI would fail.
		CORS: uiconfig.CORS{CookieInsecure: true},
	}
	s.ui = uiserver.NewServer(uioptions.WithConfigProvider(cfg))
	s.uiDone = make(chan struct{})
	go func() {
		defer close(s.uiDone)
		if err := s.ui.Start(); err != nil {
			s.cfg.Logger.Error("temporal UI stopped", "error", err)
		}
	}()
	return waitListening(s.cfg.UIAddr, 10*time.Second)
}

func sqlStore(pg *pgx.ConnConfig, database string, maxConns int) *config.SQL {
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	return &config.SQL{
		PluginName:      "postgres12_pgx",
		DatabaseName:    database,
		ConnectAddr:     net.JoinHostPort(pg.Host, strconv.Itoa(int(pg.Port))),
		ConnectProtocol: "tcp",
		User:            pg.User,
		Password:        pg.Password,
		MaxConns:        maxConns,
		MaxIdleConns:    maxConns,
		MaxConnLifetime: time.Hour,
	}
}

func buildConfig(stores map[string]*config.SQL, host string, port int) (*config.Config, error) {
	ports, err := freePorts(host, 7)
	if err != nil {
		return nil, err
	}
	frontend := net.JoinHostPort(host, strconv.Itoa(port))
	service := func(grpc, membership int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: grpc, MembershipPort: membership, BindOnIP: host}}
	}
	return &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: host},
		},
		Persistence: config.Persistence{
			DefaultStore:     "default",
			VisibilityStore:  "visibility",
			NumHistoryShards: numHistoryShards,
			DataStores: map[string]config.DataStore{
				"default":    {SQL: stores["default"]},
				"visibility": {SQL: stores["visibility"]},
			},
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        "active",
			CurrentClusterName:       "active",
			ClusterInformation: map[string]cluster.ClusterInformation{
				"active": {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			string(primitives.FrontendService): {RPC: config.RPC{GRPCPort: port, MembershipPort: ports[0], BindOnIP: host}},
			string(primitives.HistoryService):  service(ports[1], ports[2]),
			string(primitives.MatchingService): service(ports[3], ports[4]),
			string(primitives.WorkerService):   service(ports[5], ports[6]),
		},
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{
			Archival: config.ArchivalNamespaceDefaults{
				History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
				Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
			},
		},
		PublicClient: config.PublicClient{HostPort: frontend},
	}, nil
}

// newLogger keeps the embedded server quiet: its info lines are about its own
// internals and would drown Switchboard's logs. Warnings and errors still show.
func newLogger(level string) log.Logger {
	if level == "" {
		level = "warn"
	}
	return log.NewZapLogger(log.BuildZapLogger(log.Config{Level: level, Format: "json"}))
}

// stopSafeLogger is the server's logger, except that a fatal message from a server
// being stopped is logged as an error and ends only the goroutine that logged it,
// not the process: a component
// still starting when Stop comes (cluster membership, say) gives up with a fatal
// "context canceled", which would otherwise end the whole switchboard process — a
// clean shutdown, or any test that stops a stack soon after starting it, with exit 1.
type stopSafeLogger struct {
	log.Logger
	stopping *atomic.Bool
}

func (l stopSafeLogger) Fatal(msg string, tags ...tag.Tag) {
	if l.stopping.Load() {
		// The caller goes no further after a fatal message (the component's state
		// is unusable), so its goroutine ends here, as the process would have.
		l.Logger.Error("while stopping: "+msg, tags...)
		runtime.Goexit()
	}
	l.Logger.Fatal(msg, tags...)
}
