#!/bin/sh
# One-shot at `docker compose up`: every secret of the stack, made on first start and kept in
# named volumes; later starts reuse them. Each container mounts only the volumes it needs.
# Delete a volume to rotate what it holds (docs/deploy.md, "Secrets").
set -eu
umask 077
# Where the volumes are mounted (tests run the script on a temporary folder).
root=${SECRETS_ROOT:-/secrets}

# secret FILE OWNER: a random secret in FILE unless it holds one, readable by OWNER only.
secret() {
  if [ ! -s "$1" ]; then
    head -c 32 /dev/urandom | base64 | tr -d '+/=\n' > "$1"
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
