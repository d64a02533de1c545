from django.db import models


class OutboxEvent(models.Model):
    """An event not yet accepted by cachegate. Deleted once cachegate
    answers 202/200; moved to DeadEvent when cachegate refuses it (400)."""

    event_id = models.CharField(max_length=64, unique=True)
    body = models.TextField()
    created = models.DateTimeField(auto_now_add=True)
    attempts = models.IntegerField(default=0)
    next_attempt = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "cachegate_outbox"
        ordering = ["id"]


class DeadEvent(models.Model):
    """An event cachegate refused as invalid: kept with the reason so that
    nothing disappears silently."""

    event_id = models.CharField(max_length=64)
    body = models.TextField()
    reason = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "cachegate_dead_event"
        ordering = ["id"]
