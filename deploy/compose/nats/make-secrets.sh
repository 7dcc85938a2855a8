#!/bin/sh
# One-shot at `docker compose up`: a NATS password per Tollway service, made on first start and
# kept in named volumes. Each service mounts only its own; nats-server reads all of them as
# config variables (nats.conf includes passwords.conf). Delete the volumes to rotate.
set -eu
umask 077
out=/secrets/nats/passwords.conf
tmp=$(mktemp)
for service in edge router metering admin; do
  file=/secrets/$service/password
  if [ ! -s "$file" ]; then
    head -c 32 /dev/urandom | base64 | tr -d '+/=\n' > "$file"
  fi
  # The service images run as uid 10001.
  chown 10001:10001 "$file"
  chmod 0400 "$file"
  name=$(echo "$service" | tr a-z A-Z)
  printf '%s_PASSWORD: "%s"\n' "$name" "$(cat "$file")" >> "$tmp"
done
mv "$tmp" "$out"
chmod 0400 "$out"
