"""The CACHEGATE setting, read on every use so that tests and reloads can
change it. Keys (all optional but INGEST_URL and TOKEN for publishing):

INGEST_URL     cachegate's admin listener, e.g. "http://127.0.0.1:9090";
               events are POSTed to <INGEST_URL>/api/v1/events.
TOKEN          bearer token for the ingest (a publish-only token).
TENANT         the tenant of every event, or None to take it from the
               request (TENANT_RESOLVER).
TENANT_RESOLVER dotted path of a callable(request) -> tenant; default: the
               request's host, lower-cased, without port (what cachegate's
               default policy uses).
SKIP_TABLES    tables whose reads are not tagged and whose writes publish
               nothing (sessions, migrations and our outbox always are;
               the default also skips content types, permissions and the
               admin log).
SKIP_MODELS    the same by model label ("app_label.ModelName").
MAX_TAGS       tag budget per response (default 64): past it, a model's row
               tags are replaced by its list tag.
WAIT           publish with ?wait=1: the request returns once the
               invalidation is applied (read-your-writes). Default False.
TIMEOUT        seconds for one delivery attempt (default 2).
FLUSH_INTERVAL seconds between background outbox flushes while the outbox
               is not empty (default 5); 0 disables the background flush.
"""

from django.conf import settings
from django.utils.module_loading import import_string

ALWAYS_SKIPPED_TABLES = frozenset(
    {"django_session", "django_migrations", "cachegate_outbox", "cachegate_dead_event"}
)

DEFAULTS = {
    "INGEST_URL": "",
    "TOKEN": "",
    "TENANT": None,
    "TENANT_RESOLVER": "cachegate_django.conf.host_tenant",
    # Written by migrate and the admin, read by no cached page.
    "SKIP_TABLES": ("django_content_type", "auth_permission", "django_admin_log"),
    "SKIP_MODELS": (),
    "MAX_TAGS": 64,
    "WAIT": False,
    "TIMEOUT": 2.0,
    "FLUSH_INTERVAL": 5.0,
}


def get(name):
    return getattr(settings, "CACHEGATE", {}).get(name, DEFAULTS[name])


def host_tenant(request):
    host = request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", "")
    host = host.strip().lower().rstrip(".")
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def tenant_for(request):
    """The tenant of events caused by request (None outside a request)."""
    fixed = get("TENANT")
    if fixed:
        return fixed
    if request is None:
        return None
    return import_string(get("TENANT_RESOLVER"))(request) or None


def skipped_tables():
    from django.apps import apps

    tables = set(ALWAYS_SKIPPED_TABLES) | set(get("SKIP_TABLES"))
    for label in get("SKIP_MODELS"):
        tables.add(apps.get_model(label)._meta.db_table)
    return tables
