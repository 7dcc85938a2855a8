#!/bin/sh
# One-shot at `docker compose up`: every secret of the stack, made on first start and kept in
# named volumes; later starts reuse them. Each container mounts only the volumes it needs.
# Delete a volume to rotate what it holds (docs/deploy.md, "Secrets").
set -eu
umask 077
# Where the volumes are mounted (tests run the script on a temporary folder).
root=${SECRETS_ROOT:-/secrets}

# secret FILE OWNER [VALUE [PREFIX]]: VALUE (from .env) in FILE when given, else a random
# secret (after PREFIX) unless FILE holds one already; readable by OWNER only.
secret() {
  if [ -n "${3:-}" ]; then
    printf '%s' "$3" > "$1"
  elif [ ! -s "$1" ]; then
    printf '%s%s' "${4:-}" "$(head -c 32 /dev/urandom | base64 | tr -d '+/=\n')" > "$1"
  fi
  chown "$2" "$1"
  chmod 0400 "$1"
}

# The Tollway images run as uid 10001.
TOLLWAY=10001:10001

# A NATS password per service; nats-server reads all of them as config variables (nats.conf
# includes passwords.conf).
out=$root/nats/passwords.conf
tmp=$(mktemp)
for service in edge router metering admin; do
  secret "$root/$service/password" "$TOLLWAY"
  name=$(echo "$service" | tr a-z A-Z)
  printf '%s_PASSWORD: "%s"\n' "$name" "$(cat "$root/$service/password")" >> "$tmp"
done
mv "$tmp" "$out"
chmod 0400 "$out"

# Redis: the edge's password, and the config line that makes Redis ask for it (the redis image
# runs as uid 999, gid 1000).
secret "$root/redis/password" "$TOLLWAY"
printf 'requirepass "%s"\n' "$(cat "$root/redis/password")" > "$root/redis/redis.conf"
chown 999:1000 "$root/redis/redis.conf"
chmod 0400 "$root/redis/redis.conf"

# Admin: the bootstrap token (API and UI sign-in), the UI's session-signing secret (independent
# of the token) and the dev client key config/tollway.yaml names (env:TOLLWAY_DEV_API_KEY, read
# from TOLLWAY_DEV_API_KEY_FILE).
secret "$root/admin-secrets/token" "$TOLLWAY" "${TOLLWAY_ADMIN_TOKEN:-}" tw-admin-
secret "$root/admin-secrets/session-secret" "$TOLLWAY"
secret "$root/admin-secrets/dev-api-key" "$TOLLWAY" "${TOLLWAY_DEV_API_KEY:-}" sk-tollway-dev-
# The edge's client IP-hash salt.
secret "$root/edge-secrets/client-ip-salt" "$TOLLWAY"

# ClickHouse's `default` password: ClickHouse's entrypoint reads it as root, Grafana (uid 472)
# for its data source; metering gets the whole DSN.
secret "$root/clickhouse/password" 472:472 "${CLICKHOUSE_PASSWORD:-}"
printf 'http://default:%s@clickhouse:8123' "$(cat "$root/clickhouse/password")" > "$root/clickhouse/dsn"
chown "$TOLLWAY" "$root/clickhouse/dsn"
chmod 0400 "$root/clickhouse/dsn"

# Grafana's admin password (user admin).
secret "$root/grafana/admin-password" 472:472 "${GRAFANA_ADMIN_PASSWORD:-}"
