"""The transactional outbox: a write's invalidation is stored in the same
database transaction as the write, so that the two commit together or not
at all. A process that dies after the commit leaves the event in the outbox
for the next flush; a rollback takes the event with it, so a rolled-back
transaction invalidates nothing.

Rows, not one per statement: the writes of one transaction level (the
outermost transaction or one savepoint) go to one open row, updated in
place. A row is only ever updated at the level it was inserted in, and only
while Django still holds its on_commit hook: a rollback of that level
discards both the row and the hook, so what this module remembers of a row
never outlives the row.

In autocommit (no atomic block), each statement has committed before its
tags are recorded: the row is written right after it, not with it; a crash
in between loses that one invalidation. Wrap writes in transaction.atomic()
(or set ATOMIC_REQUESTS) where that window matters. An autocommit row may be
delivered by the background flush at any time, so it is updated with a
compare-and-set on its body and a new event id each time, and a flush that
read an older body neither deletes the row nor sends a duplicate id.

Writes to a database other than the outbox's cannot share its transaction:
their rows are written once the write has committed.
"""

import datetime
import json
import uuid
import weakref

from django.db import connections, transaction
from django.db.transaction import TransactionManagementError

OUTBOX_ALIAS = "default"

# Tags per event: cachegate accepts up to 10000 items and a body up to its
# size limit; 1000 keeps bodies small.
TAGS_PER_EVENT = 1000

_open = weakref.WeakKeyDictionary()  # connection -> _Row


class _Row:
    """The open outbox row of one connection. Registered with on_commit
    when written in a transaction: Django drops the hook exactly when a
    rollback drops the row."""

    def __init__(self, pk, body, tenant, tags, tables, sids, then):
        self.pk = pk
        self.body = body
        self.tenant = tenant
        self.tags = tags
        self.tables = tables
        self.sids = sids  # None: written in autocommit
        self.then = then
        self.seq = 0

    def __call__(self):
        self.then(self.pk)


def new_event(tenant, tags, tables):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "id": uuid.uuid4().hex,
        "tenant": tenant or "",
        "type": "django.changed",
        "tags": sorted(tags),
        "data": {"tables": sorted(tables)},
        "occurred_at": now,
    }


def _level(conn):
    """The transaction level a row written now belongs to: None in
    autocommit, else the savepoints open."""
    return tuple(conn.savepoint_ids) if conn.in_atomic_block else None


def _alive(conn, row):
    if row.sids is None:
        return True  # committed; the compare-and-set finds out if delivered
    return any(entry[1] is row for entry in conn.run_on_commit)


def add(using, tenant, tags, table, seq, then):
    """Stores tags (written to table on connection using) in the outbox.
    then(pk) runs once the row is committed. seq numbers the data write
    being recorded: tags already in the open row at the same seq (a save's
    statement and its post_save signal) write nothing."""
    from .models import OutboxEvent

    if len(tags) > TAGS_PER_EVENT:
        ordered = sorted(tags)
        for i in range(0, len(ordered), TAGS_PER_EVENT):
            add(using, tenant, set(ordered[i : i + TAGS_PER_EVENT]), table, seq, then)
        return
    if using != OUTBOX_ALIAS:
        transaction.on_commit(lambda: then(_insert(OUTBOX_ALIAS, tenant, set(tags), {table}).pk), using=using)
        return
    conn = connections[using]
    level = _level(conn)
    row = _open.get(conn)
    if row is not None and (row.sids != level or row.tenant != tenant or not _alive(conn, row)):
        row = None
    if row is not None and tags <= row.tags and table in row.tables and (level is not None or row.seq == seq):
        return
    if row is not None and len(row.tags | tags) <= TAGS_PER_EVENT:
        merged_tags, merged_tables = row.tags | tags, row.tables | {table}
        body = json.dumps(new_event(tenant, merged_tags, merged_tables))
        updated = OutboxEvent.objects.using(using).filter(pk=row.pk, body=row.body).update(
            body=body, event_id=json.loads(body)["id"]
        )
        if updated == 1:
            row.body, row.tags, row.tables, row.seq = body, merged_tags, merged_tables, seq
            if level is None:
                then(row.pk)
            return
        # Delivered (or being delivered) since: these tags need a row of
        # their own, written after the write they follow.
    ev = new_event(tenant, tags, {table})
    created = OutboxEvent.objects.using(using).create(event_id=ev["id"], body=json.dumps(ev))
    row = _Row(created.pk, created.body, tenant, set(tags), {table}, level, then)
    row.seq = seq
    _open[conn] = row
    if level is None:
        then(row.pk)
        return
    try:
        transaction.on_commit(row, using=using)
    except TransactionManagementError:
        # Manual transaction management: the row commits with the app's
        # commit, and the background flush delivers it.
        _open.pop(conn, None)


def _insert(using, tenant, tags, tables):
    from .models import OutboxEvent

    ev = new_event(tenant, tags, tables)
    return OutboxEvent.objects.using(using).create(event_id=ev["id"], body=json.dumps(ev))


def forget():
    """Closes this thread's open rows (at a request's start): a new request
    starts new rows."""
    for conn in connections.all():
        _open.pop(conn, None)
