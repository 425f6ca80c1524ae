#!/bin/sh
# Registers the Temporal namespace Switchboard uses, unless it already exists.
# Runs in the temporalio/admin-tools image (temporal CLI) once the server's
# frontend port is open. Switchboard's worker registers its own search
# attributes in this namespace when it starts.
set -eu

address=${TEMPORAL_ADDRESS:-temporal:7233}
namespace=${NAMESPACE:-default}
retention=${NAMESPACE_RETENTION:-168h}

# The frontend port opens before every service role is up: wait for SERVING.
tries=0
until temporal operator cluster health --address "$address" >/dev/null 2>&1; do
	tries=$((tries + 1))
	if [ "$tries" -ge 60 ]; then
		echo "temporal-namespace: server at $address is not healthy after 120s" >&2
		exit 1
	fi
	sleep 2
done

if temporal operator namespace describe --namespace "$namespace" --address "$address" >/dev/null 2>&1; then
	echo "temporal-namespace: namespace $namespace already exists"
	exit 0
fi

echo "temporal-namespace: creating namespace $namespace (retention $retention)"
if ! temporal operator namespace create --namespace "$namespace" --retention "$retention" --address "$address"; then
	# Fine if it exists after all (created concurrently, or a describe that failed transiently).
	temporal operator namespace describe --namespace "$namespace" --address "$address" >/dev/null
fi

# A new namespace reaches the frontend's namespace cache within about 15s;
# wait for that so the Switchboard services do not start against a namespace
# the server still reports as missing. Not fatal: they restart on failure.
tries=0
until temporal workflow list --limit 1 --namespace "$namespace" --address "$address" >/dev/null 2>&1; do
	tries=$((tries + 1))
	if [ "$tries" -ge 30 ]; then
		echo "temporal-namespace: namespace $namespace not served yet; continuing" >&2
		exit 0
	fi
	sleep 1
done
echo "temporal-namespace: namespace $namespace is ready"
