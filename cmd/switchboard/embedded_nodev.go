//go:build nodev

package main

import (
	"context"
	"errors"
	"log/slog"
)

// Production images are built with -tags nodev: they leave out the embedded Temporal
// server and Web UI (most of the binary's size), so `dev` needs an external cluster.
func startEmbeddedTemporal(context.Context, *config, *slog.Logger) (string, func(), error) {
	return "", nil, errors.New("this build has no embedded Temporal server (built with -tags nodev): set SWITCHBOARD_TEMPORAL_ADDRESS")
}
