from . import changes, conf, delivery, outbox, tracking


class CachegateMiddleware:
    """Tags the response with what the request read and publishes what it
    wrote, once committed. Put it first in MIDDLEWARE."""

    def __init__(self, get_response):
        self.get_response = get_response
        # The background flush runs in serving processes: those load
        # middleware, management commands do not.
        delivery.flusher.start()

    def __call__(self, request):
        outbox.forget()
        reads = tracking.Reads()
        batch = changes.Batch(request)
        rt = tracking.current.set(reads)
        bt = changes.current.set(batch)
        try:
            response = self.get_response(request)
        finally:
            tracking.current.reset(rt)
            changes.current.reset(bt)
            # Commits inside the request (autocommit or ATOMIC_REQUESTS) have
            # run their hooks by now; publish even if the view raised.
            batch.publish()
        if not getattr(response, "streaming", False):
            tags = reads.tags(int(conf.get("MAX_TAGS")))
            if tags:
                have = response.get("Surrogate-Key", "").split()
                response["Surrogate-Key"] = " ".join(have + [t for t in tags if t not in have])
        return response
