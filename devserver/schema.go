package devserver

import (
	"fmt"

	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	_ "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql" // registers the postgres12_pgx plugin
	"go.temporal.io/server/tools/common/schema"
	sqltool "go.temporal.io/server/tools/sql"
)

// schemaNames maps each store to its schema inside the server's embedded schema files.
var schemaNames = map[string]string{
	"default":    "postgresql/v12/temporal",
	"visibility": "postgresql/v12/visibility",
}

// prepareSchemas creates the server's databases if missing and brings their schemas to
// the version this server build expects, with the server's own schema tooling. Each step
// is idempotent, so every start runs it.
func prepareSchemas(stores map[string]*config.SQL, logger log.Logger) error {
	for _, store := range []string{"default", "visibility"} {
		cfg := *stores[store]
		if err := sqltool.DoCreateDatabase(&cfg, "postgres", logger); err != nil {
			return fmt.Errorf("create database %s: %w", stores[store].DatabaseName, err)
		}
		if err := migrate(stores[store], schemaNames[store], logger); err != nil {
			return fmt.Errorf("temporal schema in %s: %w", stores[store].DatabaseName, err)
		}
	}
	return nil
}

func migrate(cfg *config.SQL, schemaName string, logger log.Logger) error {
	conn, err := sqltool.NewConnection(cfg, logger)
	if err != nil {
		return err
	}
	defer conn.Close()
	// A setup without a schema file only creates the version tables and records 0.0;
	// on a database that is already past 0.0 it changes nothing.
	setup := schema.NewSetupSchemaTask(conn, &schema.SetupConfig{InitialVersion: "0.0"}, logger)
	if err := setup.Run(); err != nil {
		return fmt.Errorf("version tables: %w", err)
	}
	update := schema.NewUpdateSchemaTask(conn, &schema.UpdateConfig{DBName: cfg.DatabaseName, SchemaName: schemaName}, logger)
	if err := update.Run(); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	return nil
}
