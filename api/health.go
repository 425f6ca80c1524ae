package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// dependency is one line of the readiness report.
type dependency struct {
	Status    string  `json:"status"`
	LatencyMs float64 `json:"latencyMs"`
	Error     string  `json:"error,omitempty"`
}

type readiness struct {
	Status string                `json:"status"`
	Checks map[string]dependency `json:"checks"`
}

// readyz checks PostgreSQL, Redis and Temporal in parallel and reports each; any
// failure makes the whole answer 503 so a load balancer stops sending traffic.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	probes := map[string]func(context.Context) error{
		"postgres": s.store.Ping,
		"redis":    func(ctx context.Context) error { return s.redis.Ping(ctx).Err() },
		"temporal": func(ctx context.Context) error {
			_, err := s.temporal.CheckHealth(ctx, nil)
			return err
		},
	}
	out := readiness{Status: "ok", Checks: make(map[string]dependency, len(probes))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, probe := range probes {
		wg.Go(func() {
			start := time.Now()
			err := probe(ctx)
			d := dependency{Status: "ok", LatencyMs: float64(time.Since(start).Microseconds()) / 1000}
			if err != nil {
				d.Status, d.Error = "failed", err.Error()
			}
			mu.Lock()
			defer mu.Unlock()
			out.Checks[name] = d
			if err != nil {
				out.Status = "failed"
			}
		})
	}
	wg.Wait()
	status := http.StatusOK
	if out.Status != "ok" {
		status = http.StatusServiceUnavailable
	}
	return c.JSON(status, out)
}
