from django.core.management.base import BaseCommand, CommandError

from cachegate_django import delivery


class Command(BaseCommand):
    help = "Delivers the events waiting in the cachegate outbox (ignoring their backoff)."

    def handle(self, *args, **options):
        delivered, dead, left = delivery.flush(force=True)
        self.stdout.write("delivered %d, dead %d, left %d" % (delivered, dead, left))
        if left:
            raise CommandError("%d events are still in the outbox: cachegate did not accept them" % left)
