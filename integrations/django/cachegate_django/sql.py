"""What one SQL statement read and wrote, told from its text.

The parse is deliberately conservative: a statement is row-precise only when
its only condition is an equality or IN on the table's primary key with
placeholders (what the ORM sends for get(pk=...), save() and delete());
everything else counts as reading or writing the whole table.
"""

import functools
import re

_READ_TABLE = re.compile(r"\b(?:FROM|JOIN)\s+[`\"\[]?(\w+)", re.I)
_WRITE_TABLE = re.compile(
    r"^\s*(?:UPDATE(?:\s+OR\s+\w+)?|INSERT(?:\s+OR\s+\w+)?\s+INTO|REPLACE\s+INTO|"
    r"DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+[`\"\[]?(\w+)",
    re.I,
)
_PK_TAIL = re.compile(
    r"\bWHERE\s+(?:[`\"]?(\w+)[`\"]?\.)?[`\"]?(\w+)[`\"]?\s*"
    r"(=\s*%s|IN\s*\(\s*%s(?:\s*,\s*%s)*\s*\))\s*(?:LIMIT\s+\d+)?\s*$",
    re.I,
)
_WHERE = re.compile(r"\bWHERE\b", re.I)
_SELECT = re.compile(r"\bSELECT\b", re.I)
_JOIN = re.compile(r"\bJOIN\b", re.I)
_FIRST_WORD = re.compile(r"^\s*\(?\s*(\w+)")

MAX_TAG_LENGTH = 256  # cachegate's invalidation.MaxTagLength


@functools.lru_cache(maxsize=None)
def table_models():
    """db_table -> concrete model, for every installed model (auto-created
    m2m through models included). Built once: models do not change at run
    time."""
    from django.apps import apps

    out = {}
    for model in apps.get_models(include_auto_created=True):
        if not model._meta.proxy:
            out.setdefault(model._meta.db_table, model)
    return out


def model_tag(model):
    """The list tag of a model, also the prefix of its row tags."""
    return model._meta.concrete_model._meta.label_lower


def valid_tag(tag):
    return 0 < len(tag) <= MAX_TAG_LENGTH and all(" " < c < "\x7f" and c != "," for c in tag)


class Statement:
    """reads: tables read; row_reads: table -> pks when the read was a
    primary-key lookup; writes: table -> pks, or None when the rows are
    unknown (bulk, INSERT, raw)."""

    __slots__ = ("reads", "row_reads", "writes")

    def __init__(self):
        self.reads = set()
        self.row_reads = {}
        self.writes = {}


def parse(sql, params, many):
    st = Statement()
    if not isinstance(sql, str):
        sql = str(sql)
    first = _FIRST_WORD.match(sql)
    word = first.group(1).upper() if first else ""
    if word in ("SELECT", "WITH", "VALUES"):
        st.reads.update(_READ_TABLE.findall(sql))
        table = _single_table(st.reads)
        pks = _pk_values(sql, params, many, table, selects=1) if table else None
        if pks is not None:
            st.row_reads[table] = pks
    m = _WRITE_TABLE.match(sql) if word != "SELECT" else None
    if m:
        table = m.group(1)
        pks = None
        if word in ("UPDATE", "DELETE"):
            pks = _pk_values(sql, params, many, table, selects=0)
        st.writes[table] = pks
        # A write's own FROM/JOIN (subqueries) reads other tables; they do
        # not make a response depend on them, so they are not reads here.
    return st


def _single_table(tables):
    return next(iter(tables)) if len(tables) == 1 else None


def _pk_values(sql, params, many, table, selects):
    """The primary-key values a statement is limited to, or None when it is
    not a plain primary-key lookup of table."""
    model = table_models().get(table)
    if model is None:
        return None
    m = _PK_TAIL.search(sql)
    if not m or len(_WHERE.findall(sql)) != 1 or _JOIN.search(sql) or len(_SELECT.findall(sql)) != selects:
        return None
    if m.group(1) and m.group(1) != table or m.group(2) != model._meta.pk.column:
        return None
    n = m.group(3).count("%s")
    rows = params if many else [params]
    pks = []
    for p in rows or ():
        if p is None or isinstance(p, dict) or len(p) != sql.count("%s") or len(p) < n:
            return None
        pks.extend(p[len(p) - n :])
    if not pks:
        return None
    tag = model_tag(model)
    try:
        # The database may see an adapted value (a UUID as hex on SQLite);
        # the row tag is the Python value's text, as model loading sees it.
        out = {str(model._meta.pk.to_python(v)) for v in pks}
    except Exception:
        return None
    if not all(valid_tag(tag + ":" + v) for v in out):
        return None
    return out
