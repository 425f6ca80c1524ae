// Package activities holds the side effects that workflows run: PostgreSQL, Redis, HTTP
// and media calls. Activities are methods on Activities so they share its clients.
package activities

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"switchboard/channels"
	"switchboard/dispatch"
	"switchboard/events"
	"switchboard/pgstore"
	"switchboard/presence"
	"switchboard/sentiment"
)

// Activities holds the clients activities use.
type Activities struct {
	DB       *pgxpool.Pool
	Redis    *redis.Client
	Store    *pgstore.Store
	Presence *presence.Store
	// Wake signals a waiting interaction that bulk assignment reserved an agent
	// for it; nil wakes nobody (the interaction finds the reservation at its next
	// look).
	Wake dispatch.Wake
	// Dispatcher makes the assignment decisions; nil makes one over Store and
	// Presence for each call (no cache).
	Dispatcher *dispatch.Dispatcher
	// Channels gives the adapter that sends from a tenant's channel sender.
	Channels *channels.Registry
	// Events is the realtime feed the interactions' lifecycle events go to; nil
	// publishes nothing.
	Events *events.Feed
	// Automations run the tenants' automation rules on the published events
	// (whether or not Events is set); nil runs none.
	Automations *Automations
	// Webhooks delivers the events published to Events to the tenants' webhook
	// endpoints as well; nil delivers none.
	Webhooks *Webhooks
	// Signal sends a signal to a workflow (an agent's session, told of voice
	// changes); nil uses the client of the worker running the activity.
	Signal func(ctx context.Context, workflowID, signal string, arg any) error
	// Sentiment scores customers' messages; nil uses the lexicon that ships with
	// the sentiment package.
	Sentiment sentiment.Scorer
	// ExportDir is where exports of the interaction history are written: the
	// exports folder of the data directory, which the API reads too; empty
	// refuses exports.
	ExportDir string

	campaignsOnce sync.Once
	campaigns     *campaigns
}

// DependencyStatus is one dependency as the worker sees it.
type DependencyStatus struct {
	Name      string  `json:"name"`
	OK        bool    `json:"ok"`
	LatencyMs float64 `json:"latencyMs"`
	Error     string  `json:"error,omitempty"`
}

// DependencyReport is the result of CheckDependencies.
type DependencyReport struct {
	Worker string             `json:"worker"`
	Checks []DependencyStatus `json:"checks"`
}

// CheckDependencies pings PostgreSQL and Redis from the worker. A failed ping is
// reported, not returned as an error, so the caller sees which dependency is down
// instead of a retried activity.
func (a *Activities) CheckDependencies(ctx context.Context) (DependencyReport, error) {
	host, _ := os.Hostname()
	report := DependencyReport{Worker: fmt.Sprintf("%d@%s", os.Getpid(), host)}
	report.Checks = []DependencyStatus{
		probe(ctx, "postgres", a.DB.Ping),
		probe(ctx, "redis", func(ctx context.Context) error { return a.Redis.Ping(ctx).Err() }),
	}
	return report, nil
}

func probe(ctx context.Context, name string, ping func(context.Context) error) DependencyStatus {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	start := time.Now()
	err := ping(ctx)
	s := DependencyStatus{Name: name, OK: err == nil, LatencyMs: float64(time.Since(start).Microseconds()) / 1000}
	if err != nil {
		s.Error = err.Error()
	}
	return s
}
