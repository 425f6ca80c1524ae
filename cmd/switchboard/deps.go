package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"switchboard/media"
	"switchboard/schema"
	"switchboard/telemetry"
)

func newLogger(cfg *config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated in parse
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	// The SIP and Redis libraries log through package-wide loggers they read without
	// locking: set them once per process (tests run several stacks in one).
	libraryLoggers.Do(func() {
		media.SetSIPLibraryLogger(logger)
		redis.SetLogger(redisLogger{logger.With("component", "redis")})
	})
	return logger
}

var libraryLoggers sync.Once

// checkPostgres says plainly when PostgreSQL is down, instead of a driver error deep
// inside start-up.
func checkPostgres(ctx context.Context, url string) error {
	pc, err := schema.ConnConfig(url)
	if err != nil {
		return fmt.Errorf("SWITCHBOARD_DATABASE_URL: %w", err)
	}
	pc.Database = "postgres"
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, pc)
	if err != nil {
		return fmt.Errorf("PostgreSQL is not reachable at %s:%d (%v).\n"+
			"Start it (Debian: `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`; "+
			"Docker: `docker compose up -d postgresql`) or point SWITCHBOARD_DATABASE_URL at a running server",
			pc.Host, pc.Port, rootCause(err))
	}
	return conn.Close(ctx)
}

func connectRedis(ctx context.Context, url string) (*redis.Client, error) {
	return connectRedisPool(ctx, url, 0)
}

// connectRedisPool is connectRedis with a pool of poolSize connections (0: the
// URL's pool_size, else go-redis's default of ten per CPU).
func connectRedisPool(ctx context.Context, url string, poolSize int) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("SWITCHBOARD_REDIS_URL: %w", err)
	}
	if poolSize > 0 {
		opts.PoolSize = poolSize
	}
	rdb := redis.NewClient(opts)
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("Redis is not reachable at %s (%v).\n"+
			"Start it (Debian: `redis-server --daemonize yes --bind 127.0.0.1 --port 6379`; "+
			"Docker: `docker compose up -d redis`) or point SWITCHBOARD_REDIS_URL at a running server",
			opts.Addr, rootCause(err))
	}
	return rdb, nil
}

// defaultPoolSize is the PostgreSQL pool of a process unless the URL sets
// pool_max_conns: pgx's own default (4 on a small machine) would queue the worker's
// assignment activities behind each other.
const defaultPoolSize = 10

func connectPostgres(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("SWITCHBOARD_DATABASE_URL: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = defaultPoolSize
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("SWITCHBOARD_DATABASE_URL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	return pool, nil
}

// rootCause keeps the last, most specific part of a wrapped network error.
func rootCause(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && i+2 < len(msg) {
		return msg[i+2:]
	}
	return msg
}

// dialTemporal returns a client that connects lazily, so a process can start (and
// report Temporal as not ready) while the cluster is still coming up.
func dialTemporal(addr, namespace string, logger *slog.Logger, metrics client.MetricsHandler) (client.Client, error) {
	c, err := client.NewLazyClient(client.Options{
		HostPort:       addr,
		Namespace:      namespace,
		Logger:         sdklog.NewStructuredLogger(logger.With("component", "temporal-sdk")),
		MetricsHandler: metrics,
	})
	if err != nil {
		return nil, fmt.Errorf("temporal client for %s: %w", addr, err)
	}
	return c, nil
}

// waitTemporal waits until the frontend answers, so that a worker starting together
// with its cluster does not fail its first calls.
func waitTemporal(ctx context.Context, c client.Client, addr string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		checkCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.CheckHealth(checkCtx, nil)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("Temporal is not reachable at %s (%v); start the cluster or set SWITCHBOARD_TEMPORAL_ADDRESS", addr, rootCause(err))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// serveMetrics exposes /metrics and /healthz for the processes that have no API.
func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry, logger *slog.Logger) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listener on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", telemetry.Handler(reg))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	if err := srv.Serve(l); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}

// redisLogger keeps go-redis's internal retries out of the terminal: the caller reports
// an unreachable Redis itself, once and plainly.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.DebugContext(ctx, fmt.Sprintf(format, v...))
}
