package media_test

import (
	"log/slog"
	"os"
	"testing"

	"switchboard/media"
)

func TestMain(m *testing.M) {
	// Before any sipgo code runs, as SetSIPLibraryLogger requires.
	media.SetSIPLibraryLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	os.Exit(m.Run())
}
