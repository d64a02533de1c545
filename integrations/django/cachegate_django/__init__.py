"""cachegate for Django: tags every response with what it read through the
database, and publishes change events for what a request wrote, after the
transaction commits, through cachegate's HTTP ingest with a durable outbox.

Install: add "cachegate_django" to INSTALLED_APPS and
"cachegate_django.middleware.CachegateMiddleware" to MIDDLEWARE (first, so
that it sees every other middleware's queries), and set CACHEGATE (see
cachegate_django.conf).
"""

default_app_config = "cachegate_django.apps.CachegateConfig"
