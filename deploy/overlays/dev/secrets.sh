#!/bin/sh
# Writes the dev overlay's Secrets into secrets/ (random passwords, a fresh Ed25519 token-signing
# key) unless they exist, so reinstalling keeps them. Used by `make kind`; needs openssl.
set -eu
dir=${1:-$(dirname "$0")/secrets}
mkdir -p "$dir"
umask 077
[ -f "$dir/postgres.env" ] && exit 0
pw() { openssl rand -hex 24; }
db=$(pw)
app=$(pw)
admin=$(pw)
server=tenantry-postgres.tenantry-system.svc:5432
openssl genpkey -algorithm ed25519 -out "$dir/jwt-private-key.pem"
openssl pkey -in "$dir/jwt-private-key.pem" -pubout -out "$dir/jwt-public-key.pem"
printf 'POSTGRES_PASSWORD=%s\n' "$db" >"$dir/postgres.env.tmp"
printf 'TENANTRY_POSTGRES_ADMIN_URL=postgresql://postgres:%s@%s/postgres\nTENANTRY_APP_DB_PASSWORD=%s\n' \
  "$db" "$server" "$app" >"$dir/operator.env"
printf '%s\n' \
  "DATABASE_URL=postgresql+psycopg://postgres:$db@$server/tenantry" \
  "USAGE_DATABASE_URL=postgresql://tenantry_app:$app@$server/tenantry_pool" \
  "FIRST_PLATFORM_ADMIN_EMAIL=admin@tenantry.example.com" \
  "FIRST_PLATFORM_ADMIN_PASSWORD=$admin" \
  "STRIPE_WEBHOOK_SECRET=whsec_$(pw)" >"$dir/control-plane.env"
printf 'TENANTRY_APP_DATABASE_URL=postgresql://tenantry_app:%s@%s/tenantry_pool\n' \
  "$app" "$server" >"$dir/app.env"
# Last, so an interrupted run starts over.
mv "$dir/postgres.env.tmp" "$dir/postgres.env"
