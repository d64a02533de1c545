#!/usr/bin/env python3
"""Publish a change event with a tenant's publish-only token, wait until it
is applied, then purge a tag with the admin token. Standard library only.

    CACHEGATE_URL=http://127.0.0.1:9090 \
    CACHEGATE_TENANT_TOKEN=cgt_... CACHEGATE_ADMIN_TOKEN=... python3 publish.py
"""
import json
import os
import sys
import urllib.error
import urllib.request

URL = os.environ.get("CACHEGATE_URL", "http://127.0.0.1:9090")


def post(path, token, body):
    """POST body as JSON; return the decoded answer, or raise with the
    server's message (a 503 means not accepted: send it again)."""
    req = urllib.request.Request(
        URL + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{path}: HTTP {e.code}: {e.read().decode()}")


# 1. The app publishes "company acme was updated"; wait=1 answers once
#    every live instance dropped the tags (200, "applied": true).
event = post("/api/v1/events?wait=1", os.environ["CACHEGATE_TENANT_TOKEN"],
             {"tenant": "acme", "type": "company.updated", "entity": "company", "key": "acme"})
print(json.dumps(event))
if not event.get("applied"):
    sys.exit("the event was not applied")

# 2. An operator purges everything tagged gallery:acme.
purge = post("/api/v1/purge?wait=1", os.environ["CACHEGATE_ADMIN_TOKEN"],
             {"tenant": "acme", "tags": ["gallery:acme"]})
print(json.dumps(purge))
if not purge.get("applied"):
    sys.exit("the purge was not applied")
