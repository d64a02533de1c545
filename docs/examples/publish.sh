#!/bin/sh
# Publish a change event with a tenant's publish-only token, wait until it
# is applied, then purge a tag with the admin token. curl only.
#
#   CACHEGATE_URL=http://127.0.0.1:9090 \
#   CACHEGATE_TENANT_TOKEN=cgt_... CACHEGATE_ADMIN_TOKEN=... sh publish.sh
#
# ?wait=1 answers 200 once every live instance dropped the tags from L1
# and L2 recorded them (the CDN confirms later); 202 without it, once the
# event is durable. --fail-with-body makes any other answer an error.
set -eu
url=${CACHEGATE_URL:-http://127.0.0.1:9090}

# 1. The app publishes "company acme was updated" for its tenant.
curl --silent --show-error --fail-with-body \
  -H "Authorization: Bearer $CACHEGATE_TENANT_TOKEN" \
  -H 'Content-Type: application/json' \
  --data '{"tenant":"acme","type":"company.updated","entity":"company","key":"acme"}' \
  "$url/api/v1/events?wait=1"
echo

# 2. An operator purges everything tagged gallery:acme, and waits too.
curl --silent --show-error --fail-with-body \
  -H "Authorization: Bearer $CACHEGATE_ADMIN_TOKEN" \
  -H 'Content-Type: application/json' \
  --data '{"tenant":"acme","tags":["gallery:acme"]}' \
  "$url/api/v1/purge?wait=1"
echo
