package media_test

import (
	"log/slog"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"switchboard/media"
	"switchboard/pgstore"
	"switchboard/pgtest"
)

// The package's database and Redis: tests that need a registrar make their own
// tenants in them, so they never see each other's rows or keys.
var (
	store *pgstore.Store
	rdb   *redis.Client
)

func TestMain(m *testing.M) {
	// Before any sipgo code runs, as SetSIPLibraryLogger requires.
	media.SetSIPLibraryLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	os.Exit(pgtest.Main(m, "media", func(s *pgstore.Store, r *redis.Client) { store, rdb = s, r }))
}
