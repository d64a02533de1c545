"""Writes: the tags a write invalidates, stored in the outbox within the
write's own transaction (see outbox), and delivered per request once
committed.

A change of known rows invalidates "<model>:<pk>" and the model's list tag
"<model>"; a change of unknown rows (INSERT, bulk or raw UPDATE/DELETE)
invalidates "table:<db_table>", which every response that read the table
carries.
"""

import contextvars
import logging
import weakref

from django.db import connections

from . import conf, outbox, sql

log = logging.getLogger("cachegate_django")

current = contextvars.ContextVar("cachegate_batch", default=None)

# Data writes seen per connection: a save's statement and its post_save
# signal share a number, so the second adds nothing to the outbox.
_seq = weakref.WeakKeyDictionary()


class Batch:
    """The outbox rows one request committed, delivered once at its end."""

    def __init__(self, request):
        self.request = request
        self.rows = set()
        self.done = False

    def committed(self, pk):
        if self.done:
            # A transaction that outlived the request (a thread it started).
            _deliver_now(pk)
        else:
            self.rows.add(pk)

    def publish(self):
        self.done = True
        if self.rows:
            _deliver(sorted(self.rows))


def _deliver_now(pk):
    _deliver([pk])


def _deliver(pks):
    from . import delivery

    try:
        delivery.deliver(pks)
    except Exception:
        # The rows stay in the outbox for the background flush.
        log.exception("cachegate: could not deliver outbox rows %s now; the flush retries", pks)


def row_tags(model, pks):
    model = model._meta.concrete_model
    tag = sql.model_tag(model)
    out = {tag}
    for pk in pks:
        out.add("%s:%s" % (tag, pk))
    return out


def _tags_for(table, pks):
    model = sql.table_models().get(table)
    if model is not None and pks:
        tags = row_tags(model, pks)
        if all(sql.valid_tag(t) for t in tags):
            return tags
    return {"table:" + table}


# Schema migrations rewrite tables wholesale (and data migrations run at
# deploy time): they publish nothing; purge after a deploy that changes data.
_migrating = set()


def on_pre_migrate(sender, using, **kwargs):
    _migrating.add(using)


def on_post_migrate(sender, using, **kwargs):
    _migrating.discard(using)


def record(using, tags, table):
    """Writes tags to the outbox in the transaction of the write on using;
    they are delivered once it commits."""
    if not conf.get("INGEST_URL") or not tags or using in _migrating or table in conf.skipped_tables():
        return
    batch = current.get()
    tenant = conf.tenant_for(batch.request if batch is not None else None)
    if not tenant:
        log.error("cachegate: no tenant for a change of %s (set CACHEGATE['TENANT'])", table)
    then = batch.committed if batch is not None else _deliver_now
    try:
        outbox.add(using, tenant, set(tags), table, _seq.get(connections[using], 0), then)
    except Exception:
        # The app's write must not fail for this; the tags are logged so
        # that an operator can purge them by hand.
        log.exception("cachegate: could not store the change of %s: tags %s", table, sorted(tags))


def record_statement(using, st):
    skipped = conf.skipped_tables()
    writes = {t: pks for t, pks in st.writes.items() if t not in skipped}
    if not writes:
        return  # the outbox's own statements among them
    conn = connections[using]
    _seq[conn] = _seq.get(conn, 0) + 1
    for table, pks in writes.items():
        record(using, _tags_for(table, pks), table)


def _model_change(sender, instance, using, **kwargs):
    model = instance._meta.concrete_model
    pk = instance.pk
    if pk is None:
        return
    for m in [model] + list(model._meta.get_parent_list()):
        record(using, _tags_for(m._meta.db_table, {str(pk)}), m._meta.db_table)


def on_post_save(sender, instance, using, **kwargs):
    _model_change(sender, instance, using)


def on_post_delete(sender, instance, using, **kwargs):
    _model_change(sender, instance, using)


def on_m2m_changed(sender, instance, action, model, pk_set, using, **kwargs):
    """Every page that renders a relation read its through table, so
    "table:<through>" reaches them all (the INSERT/DELETE on it says the
    same at the database layer); the row tags of both ends reach caches of
    the objects themselves. The models' list tags are untouched: their
    tables did not change."""
    if not action.startswith("post_"):
        return
    through = sender._meta.db_table
    tags = {"table:" + through}
    ends = [(instance._meta.concrete_model, {instance.pk})]
    if pk_set:
        ends.append((model._meta.concrete_model, pk_set))
    for m, pks in ends:
        label = sql.model_tag(m)
        tags.update("%s:%s" % (label, pk) for pk in pks if pk is not None and sql.valid_tag("%s:%s" % (label, pk)))
    record(using, tags, through)
