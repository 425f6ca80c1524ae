//go:build !nodev

package main

import (
	"context"
	"fmt"
	"log/slog"

	"switchboard/devserver"
)

// startEmbeddedTemporal runs a Temporal server and its Web UI inside `switchboard dev`.
func startEmbeddedTemporal(ctx context.Context, cfg *config, logger *slog.Logger) (string, func(), error) {
	srv, err := devserver.Start(ctx, devserver.Config{
		DatabaseURL:  cfg.DatabaseURL,
		FrontendAddr: cfg.EmbeddedTemporal,
		UIAddr:       cfg.TemporalUIAddr,
		Namespace:    cfg.TemporalNamespace,
		Logger:       logger,
		MaxConns:     cfg.EmbeddedTemporalConns,
	})
	if err != nil {
		return "", nil, fmt.Errorf("embedded Temporal server: %w", err)
	}
	logger.Info("embedded Temporal server started", "frontend", srv.FrontendAddr(), "ui", cfg.TemporalUIAddr)
	return srv.FrontendAddr(), srv.Stop, nil
}
