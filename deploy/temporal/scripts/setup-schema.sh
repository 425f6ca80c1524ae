#!/bin/sh
# Creates (or upgrades) Temporal's two PostgreSQL databases: the persistence
# store and the SQL visibility store. Runs in the temporalio/admin-tools image,
# whose temporal-sql-tool reads its connection from SQL_PLUGIN, SQL_HOST,
# SQL_PORT, SQL_USER and SQL_PASSWORD, and which ships the versioned schemas
# under /etc/temporal/schema. Every step is idempotent, so it is safe to run on
# each `docker compose up`, and it applies new schema versions after an upgrade
# of the Temporal image.
set -eu

schema_root=/etc/temporal/schema/postgresql/v12

setup() {
	db=$1
	schema_dir=$2
	echo "temporal-schema: database ${db}"
	temporal-sql-tool --db "$db" create-database
	temporal-sql-tool --db "$db" setup-schema -v 0.0
	temporal-sql-tool --db "$db" update-schema -d "$schema_dir"
}

setup "${TEMPORAL_DB:-temporal}" "$schema_root/temporal/versioned"
setup "${TEMPORAL_VISIBILITY_DB:-temporal_visibility}" "$schema_root/visibility/versioned"

echo "temporal-schema: done"
