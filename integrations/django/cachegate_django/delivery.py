"""Delivery of the outbox's change events to cachegate's HTTP ingest: an
event is written to the outbox with the write it follows (see outbox) and
sent once committed; it leaves the outbox only when cachegate accepted it
(202, or 200 with wait, or 504 with wait: durably accepted, applied later)
or refused it as bad (400, or 403 for an event of a tenant the token may
not publish for: moved to the dead table with the reason). Anything else (connection error, 503
"not accepted", 5xx, a wrong token) keeps it for the next flush, with
backoff: a fault delays an event, never drops it.
"""

import datetime
import json
import logging
import threading
import time
import urllib.error
import urllib.request

from django.db import close_old_connections, connections, transaction
from django.utils import timezone

from . import conf
from .outbox import OUTBOX_ALIAS, TAGS_PER_EVENT, new_event

log = logging.getLogger("cachegate_django")

DELIVERED, RETRY, DEAD = "delivered", "retry", "dead"
MAX_BACKOFF = 300.0


def deliver(pks):
    """Tries to deliver the outbox rows pks now, in order; what cachegate
    does not accept stays for the background flush."""
    from .models import OutboxEvent

    rows = list(OutboxEvent.objects.using(OUTBOX_ALIAS).filter(pk__in=pks).order_by("id"))
    for row in _merged(rows):
        if _attempt(row) != DELIVERED:
            flusher.start()
            break


def _merged(rows):
    """One request's rows (one per transaction level it wrote at) as one
    event per tenant where the tags fit: the merged row replaces them in one
    transaction, so an event is in the outbox once, whole, at every
    moment."""
    from .models import OutboxEvent

    if len(rows) < 2:
        return rows
    events = [json.loads(r.body) for r in rows]
    tenants = {e.get("tenant") for e in events}
    tags = set().union(*(e.get("tags", ()) for e in events))
    if len(tenants) != 1 or len(tags) > TAGS_PER_EVENT:
        return rows
    tables = set().union(*(e.get("data", {}).get("tables", ()) for e in events))
    ev = new_event(tenants.pop(), tags, tables)

    class Changed(Exception):
        pass

    try:
        with transaction.atomic(using=OUTBOX_ALIAS):
            for r in rows:
                # A row the background flush took meanwhile is not merged.
                if OutboxEvent.objects.using(OUTBOX_ALIAS).filter(pk=r.pk, body=r.body).delete()[0] != 1:
                    raise Changed()
            merged = OutboxEvent.objects.using(OUTBOX_ALIAS).create(event_id=ev["id"], body=json.dumps(ev))
    except Changed:
        return rows
    return [merged]


def send(body):
    """POSTs one event body; returns (DELIVERED|RETRY|DEAD, detail)."""
    base = conf.get("INGEST_URL").rstrip("/")
    if not base:
        return RETRY, "CACHEGATE['INGEST_URL'] is not set"
    url = base + "/api/v1/events" + ("?wait=1" if conf.get("WAIT") else "")
    req = urllib.request.Request(
        url,
        data=body.encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + conf.get("TOKEN")},
    )
    try:
        with urllib.request.urlopen(req, timeout=float(conf.get("TIMEOUT"))) as resp:
            return DELIVERED, str(resp.status)
    except urllib.error.HTTPError as e:
        detail = "%d %s" % (e.code, e.read(2048).decode("utf-8", "replace").strip())
        if e.code == 504 and conf.get("WAIT"):
            return DELIVERED, detail  # durable in cachegate, applied later
        # 403: the token is valid but may not publish this event (another
        # tenant's): no retry makes it acceptable, and it must not hold up
        # the events behind it. 401 (a wrong or revoked token) is the
        # setting's fault: the events wait for a good one.
        if e.code in (400, 403, 413, 422):
            return DEAD, detail
        return RETRY, detail
    except (urllib.error.URLError, OSError, ValueError) as e:
        return RETRY, str(getattr(e, "reason", e))


def _attempt(row):
    from .models import DeadEvent, OutboxEvent

    outcome, detail = send(row.body)
    db = OUTBOX_ALIAS
    # Only the body that was sent leaves the outbox: a row its request
    # updated meanwhile carries newer writes and goes again.
    sent = OutboxEvent.objects.using(db).filter(pk=row.pk, body=row.body)
    if outcome == DELIVERED:
        sent.delete()
    elif outcome == DEAD:
        log.error("cachegate refused event %s: %s", row.event_id, detail)
        with transaction.atomic(using=db):
            DeadEvent.objects.using(db).create(event_id=row.event_id, body=row.body, reason=detail)
            sent.delete()
    else:
        log.warning("cachegate event %s kept in the outbox: %s", row.event_id, detail)
        attempts = row.attempts + 1
        delay = min(MAX_BACKOFF, 2.0 ** min(attempts, 10))
        OutboxEvent.objects.using(db).filter(pk=row.pk).update(
            attempts=attempts,
            last_error=detail[:2000],
            next_attempt=timezone.now() + datetime.timedelta(seconds=delay),
        )
    return outcome


def flush(force=False):
    """Delivers the outbox in order; stops at the first event that must be
    retried (cachegate is down: no use trying the rest now). force ignores
    the backoff. Returns (delivered, dead, left)."""
    from .models import OutboxEvent

    counts = {DELIVERED: 0, DEAD: 0}
    qs = OutboxEvent.objects.using(OUTBOX_ALIAS).order_by("id")
    if not force:
        from django.db.models import Q

        qs = qs.filter(Q(next_attempt__isnull=True) | Q(next_attempt__lte=timezone.now()))
    for row in list(qs[:500]):
        outcome = _attempt(row)
        if outcome == RETRY:
            break
        counts[outcome] += 1
    left = OutboxEvent.objects.using(OUTBOX_ALIAS).count()
    return counts[DELIVERED], counts[DEAD], left


class Flusher:
    """One background thread per process that flushes the outbox every
    FLUSH_INTERVAL seconds; started by the middleware and by a failed
    delivery. It re-reads the interval each second, so that a changed
    setting applies."""

    def __init__(self):
        self._lock = threading.Lock()
        self._thread = None

    def start(self):
        if float(conf.get("FLUSH_INTERVAL")) <= 0:
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="cachegate-outbox", daemon=True)
                self._thread.start()

    def _run(self):
        last = time.monotonic()
        while True:
            time.sleep(min(1.0, max(0.05, float(conf.get("FLUSH_INTERVAL")))))
            interval = float(conf.get("FLUSH_INTERVAL"))
            if interval <= 0 or time.monotonic() - last < interval:
                continue
            last = time.monotonic()
            try:
                close_old_connections()
                flush()
            except Exception:
                log.exception("cachegate: outbox flush failed; retrying later")
            finally:
                connections.close_all()


flusher = Flusher()
