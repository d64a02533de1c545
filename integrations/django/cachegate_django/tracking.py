"""Reads: what the current request read through the database, and the
Surrogate-Key tags that follow from it.

Tags: "table:<db_table>" for every table read (a bulk or raw write of the
table invalidates it); "<app_label>.<model>:<pk>" for every row loaded or
looked up by primary key; "<app_label>.<model>" for every model whose table
was read by anything other than a primary-key lookup (a list or filter,
whose result any row's change may alter). A single-row change invalidates
its row tag and its model's list tag, so the detail pages of other rows
stay cached.
"""

import contextvars
import logging
from collections import defaultdict

from . import conf, sql

log = logging.getLogger("cachegate_django")

current = contextvars.ContextVar("cachegate_reads", default=None)


class Reads:
    def __init__(self):
        self.tables = set()
        self.list_tables = set()
        self.rows = defaultdict(set)  # db_table -> pks (text)

    def add_statement(self, st):
        self.tables.update(st.reads)
        for table in st.reads:
            pks = st.row_reads.get(table)
            if pks is None:
                self.list_tables.add(table)
            else:
                self.rows[table].update(pks)

    def add_instance(self, instance):
        pk = instance.pk
        if pk is None:
            return
        model = instance._meta.concrete_model
        table = model._meta.db_table
        self.tables.add(table)
        self.rows[table].add(str(pk))
        for parent in model._meta.get_parent_list():
            # A child row is also its parents' row, with the same key.
            self.tables.add(parent._meta.db_table)
            self.rows[parent._meta.db_table].add(str(pk))

    def tags(self, budget):
        skipped = conf.skipped_tables()
        models = sql.table_models()
        tables = sorted(t for t in self.tables if t not in skipped)
        out = ["table:" + t for t in tables]
        lists = set()
        rows = {}
        for t in tables:
            model = models.get(t)
            if model is None:
                continue  # writes of an unmodelled table are table-wide
            tag = sql.model_tag(model)
            if t in self.list_tables:
                lists.add(tag)
            pks = {tag + ":" + pk for pk in self.rows.get(t, ())}
            if pks and all(sql.valid_tag(x) for x in pks):
                rows[tag] = pks
            elif pks:
                lists.add(tag)
        # Over budget: the models with the most rows fall back to their
        # list tag, which every change of one of their rows invalidates.
        def size():
            return len(out) + len(lists) + sum(len(v) for k, v in rows.items() if k not in lists)

        for tag in sorted(rows, key=lambda k: -len(rows[k])):
            if size() <= budget:
                break
            lists.add(tag)
        if size() > budget:
            log.warning("cachegate: %d tags exceed the budget of %d; table tags are kept", size(), budget)
        out.extend(sorted(lists))
        for tag in sorted(rows):
            if tag not in lists:
                out.extend(sorted(rows[tag]))
        return out


def on_post_init(sender, instance, **kwargs):
    reads = current.get()
    if reads is not None:
        reads.add_instance(instance)


def execute_wrapper(execute, sql_text, params, many, context):
    result = execute(sql_text, params, many, context)
    try:
        st = sql.parse(sql_text, params, many)
        reads = current.get()
        if reads is not None and st.reads:
            reads.add_statement(st)
        if st.writes:
            from . import changes

            changes.record_statement(context["connection"].alias, st)
    except Exception:
        # Never fail the app's query; a missed write is logged loudly.
        log.exception("cachegate: could not record statement %.200s", sql_text)
    return result


def install(connection, **kwargs):
    if execute_wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(execute_wrapper)
