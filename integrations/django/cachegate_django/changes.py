"""Writes: the tags a write invalidates, held until the transaction commits
(transaction.on_commit drops them on rollback), then batched per request
and handed to delivery.

A change of known rows invalidates "<model>:<pk>" and the model's list tag
"<model>"; a change of unknown rows (INSERT, bulk or raw UPDATE/DELETE)
invalidates "table:<db_table>", which every response that read the table
carries.
"""

import contextvars
import logging

from django.db import transaction
from django.db.transaction import TransactionManagementError

from . import conf, sql

log = logging.getLogger("cachegate_django")

current = contextvars.ContextVar("cachegate_batch", default=None)


class Batch:
    """The committed changes of one request, published once at its end."""

    def __init__(self, request):
        self.request = request
        self.tags = set()
        self.tables = set()

    def add(self, tags, table):
        self.tags.update(tags)
        self.tables.add(table)

    def publish(self):
        if not self.tags:
            return
        from . import delivery

        try:
            delivery.publish(conf.tenant_for(self.request), self.tags, self.tables)
        except Exception:
            log.exception("cachegate: could not store the changes of %s: tags %s", sorted(self.tables), sorted(self.tags))


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
    """Publishes tags once the current transaction on using commits."""
    if not conf.get("INGEST_URL") or not tags or using in _migrating or table in conf.skipped_tables():
        return
    batch = current.get()

    def committed():
        if batch is not None:
            batch.add(tags, table)
            return
        from . import delivery

        try:
            delivery.publish(conf.tenant_for(None), tags, {table})
        except Exception:
            # The app's commit must not fail for this; the tags are logged
            # so that an operator can purge them by hand.
            log.exception("cachegate: could not store the change of %s: tags %s", table, sorted(tags))

    try:
        transaction.on_commit(committed, using=using)
    except TransactionManagementError:
        # Manual transaction management (autocommit off outside atomic):
        # no commit hook exists, so publish now rather than never.
        committed()


def record_statement(using, st):
    for table, pks in st.writes.items():
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
