"""The Django integration against the real framework, SQLite and a real
cachegate binary (CACHEGATE_BIN): responses are tagged with what they read,
and committed writes invalidate exactly the cached responses that read them.

Run: CACHEGATE_BIN=/path/to/cachegate /usr/bin/python3 -m unittest discover -s tests -v
"""

import json
import os
import queue
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TOKEN = "django-integration-test-token"
# The tenant of every page the tests fetch: the gateway's default policy
# takes it from the host, 127.0.0.1.
TENANT = "127.0.0.1"

tmp = tempfile.TemporaryDirectory(prefix="cachegate-django-")
os.environ["EXAMPLE_DB"] = os.path.join(tmp.name, "db.sqlite3")
os.environ["DJANGO_SETTINGS_MODULE"] = "exampleproject.settings"
sys.path[:0] = [ROOT, os.path.join(ROOT, "example")]

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from cachegate_django.models import DeadEvent, OutboxEvent  # noqa: E402
from shop.models import Item  # noqa: E402


def setUpModule():
    settings.CACHEGATE = {"INGEST_URL": ""}
    call_command("migrate", verbosity=0)


def tearDownModule():
    from django.db import connections

    connections.close_all()
    tmp.cleanup()


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def wait_for(what, cond, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


class Cachegate:
    """A cachegate serve process in front of origin."""

    def __init__(self, binary, origin):
        env = dict(os.environ, CACHEGATE_ADMIN_TOKEN=TOKEN)
        self.proc = subprocess.Popen(
            [binary, "serve", "--origin", origin, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
             "--log-level", "warn"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )
        lines = queue.Queue()
        self.output = []

        def read():
            for line in self.proc.stdout:
                self.output.append(line)
                lines.put(line)
            lines.put(None)

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        addrs = {}
        deadline = time.monotonic() + 30
        while len(addrs) < 2:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.stop()
                raise AssertionError("cachegate did not start:\n" + "".join(self.output))
            for name in ("gateway", "admin"):
                prefix = name + " listening on "
                if line.startswith(prefix):
                    addrs[name] = line[len(prefix):].strip()
        self.gateway = "http://" + addrs["gateway"]
        self.admin = "http://" + addrs["admin"]

    def tenant_token(self, tenant):
        """A publish-only token for tenant, created with the admin token."""
        req = urllib.request.Request(
            self.admin + "/api/v1/tokens", method="POST",
            data=json.dumps({"tenant": tenant, "name": "django tests"}).encode(),
            headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())["token"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(10)
        self.proc.stdout.close()


def http(method, url, data=None, headers=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class IntegrationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        binary = os.environ.get("CACHEGATE_BIN")
        if not binary:
            raise AssertionError("set CACHEGATE_BIN to a built cachegate binary (go build ./cmd/cachegate)")
        cls.binary = binary
        settings.CACHEGATE = {"INGEST_URL": "", "TOKEN": TOKEN, "WAIT": True, "FLUSH_INTERVAL": 3600}
        for i in range(1, 4):
            Item.objects.create(name="item %d" % i, price=i)
        from exampleproject.wsgi import application

        cls.server = make_server("127.0.0.1", 0, application, ThreadingWSGIServer, QuietHandler)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.origin = "http://127.0.0.1:%d" % cls.server.server_address[1]
        cls.cg = None
        cls.start_cachegate()

    @classmethod
    def start_cachegate(cls):
        cls.cg = Cachegate(cls.binary, cls.origin)
        settings.CACHEGATE["INGEST_URL"] = cls.cg.admin
        # The app publishes with a publish-only token of its tenant, as the
        # README tells users to, not with the admin token.
        settings.CACHEGATE["TOKEN"] = cls.cg.tenant_token(TENANT)

    @classmethod
    def tearDownClass(cls):
        if cls.cg:
            cls.cg.stop()
        cls.server.shutdown()
        cls.server.server_close()

    def setUp(self):
        settings.CACHEGATE.update(TENANT=None, FLUSH_INTERVAL=3600)

    # Helpers.

    def status(self, path):
        code, headers, _ = http("GET", self.cg.gateway + path)
        self.assertEqual(code, 200, path)
        return headers.get("Cache-Status", "")

    def assert_hit(self, path):
        cs = self.status(path)
        self.assertIn("; hit", cs, "%s should be served from the cache: %s" % (path, cs))

    def assert_miss(self, path):
        cs = self.status(path)
        self.assertNotIn("; hit", cs, "%s should have been invalidated: %s" % (path, cs))

    def prime(self, *paths):
        for p in paths:
            self.status(p)
            self.assert_hit(p)

    def events(self):
        """The events of the admin API's audit log (what the dashboard's
        audit card shows), newest first."""
        code, _, body = http("GET", self.cg.admin + "/api/v1/audit?limit=200",
                             headers={"Authorization": "Bearer " + TOKEN})
        self.assertEqual(code, 200, body)
        entries = json.loads(body)
        entries = entries.get("entries", entries) if isinstance(entries, dict) else entries
        return [e for e in entries if e.get("action") == "event"]

    def write(self, path, **data):
        code, _, body = http("POST", self.origin + path, data)
        return code, body

    # Tests, in order (each primes what it checks).

    def test_1_tags(self):
        cases = [
            ("/items/1/", "table:shop_item shop.item:1"),
            ("/items/", "table:shop_item shop.item"),
            ("/stats/", "table:shop_item shop.item"),
        ]
        for path, want in cases:
            with self.subTest(path=path):
                code, headers, _ = http("GET", self.origin + path)
                self.assertEqual(code, 200)
                self.assertEqual(headers.get("Surrogate-Key"), want)

    def test_2_row_update_invalidates_exactly_its_readers(self):
        paths = ["/items/1/", "/items/2/", "/items/", "/stats/"]
        self.prime(*paths)
        code, _ = self.write("/items/1/", price=50)
        self.assertEqual(code, 200)
        # WAIT is on: the invalidation is applied when the write returns.
        self.assert_miss("/items/1/")
        self.assert_miss("/items/")
        self.assert_miss("/stats/")
        self.assert_hit("/items/2/")
        _, _, body = http("GET", self.cg.gateway + "/items/1/")
        self.assertIn(b'"price": 50', body)
        self.assertEqual(OutboxEvent.objects.count(), 0)

    def test_3_rollback_invalidates_nothing(self):
        paths = ["/items/1/", "/items/2/", "/items/", "/stats/"]
        self.prime(*paths)
        code, _ = self.write("/items/1/rollback/")
        self.assertEqual(code, 409)
        for p in paths:
            self.assert_hit(p)
        self.assertEqual(OutboxEvent.objects.count(), 0)
        self.assertEqual(DeadEvent.objects.count(), 0)

    def test_4_bulk_update_invalidates_the_table(self):
        paths = ["/items/1/", "/items/2/", "/items/3/", "/items/", "/stats/"]
        self.prime(*paths)
        code, _ = self.write("/items/bulk-raise/")
        self.assertEqual(code, 200)
        for p in paths:
            self.assert_miss(p)

    def stop_and_write(self, path, price):
        self.cg.stop()
        start = time.monotonic()
        code, _ = self.write(path, price=price)
        self.assertEqual(code, 200)
        self.assertLess(time.monotonic() - start, 1.5, "an unreachable cachegate must not block the request")
        self.assertEqual(OutboxEvent.objects.count(), 1)
        self.start_cachegate()

    def test_5_outbox_flushed_by_command(self):
        self.stop_and_write("/items/2/", 77)
        self.prime("/items/2/", "/items/3/")
        with open(os.devnull, "w") as out:
            call_command("cachegate_flush", stdout=out)
        self.assertEqual(OutboxEvent.objects.count(), 0)
        self.assert_miss("/items/2/")
        self.assert_hit("/items/3/")

    def test_6_outbox_flushed_in_background(self):
        self.stop_and_write("/items/3/", 88)
        self.prime("/items/3/", "/items/1/")
        OutboxEvent.objects.update(next_attempt=None)  # skip the backoff
        settings.CACHEGATE["FLUSH_INTERVAL"] = 0.1
        wait_for("the background flush", lambda: OutboxEvent.objects.count() == 0)
        settings.CACHEGATE["FLUSH_INTERVAL"] = 3600
        # Delivered with wait: applied once it left the outbox.
        self.assert_miss("/items/3/")
        self.assert_hit("/items/1/")

    def test_8_admin_edit_invalidates_the_edited_row(self):
        from django.contrib.auth.models import User
        from django.test import Client

        user = User.objects.create_superuser("admin", "admin@example.com", "pw")
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        self.prime("/items/1/", "/items/2/", "/items/")
        resp = client.post("/admin/shop/item/1/change/", {"name": "edited in the admin", "price": 5})
        self.assertEqual(resp.status_code, 302, resp.content[:500])
        self.assert_miss("/items/1/")
        self.assert_miss("/items/")
        self.assert_hit("/items/2/")
        self.assertEqual(OutboxEvent.objects.count(), 0)
        # The dashboard's audit log shows the edit's invalidation.
        shown = [e for e in self.events() if "shop.item:1" in e.get("tags", [])]
        self.assertTrue(shown, "the admin edit is not in the audit log")
        self.assertEqual(shown[0].get("tenant"), "127.0.0.1")
        self.assertIn("shop.item", shown[0]["tags"])

    def test_9_raw_insert_invalidates_the_table(self):
        from django.db import connection

        self.prime("/items/1/", "/stats/")
        # A raw INSERT outside a request: published at once (autocommit),
        # to the fixed tenant since there is no request.
        settings.CACHEGATE["TENANT"] = "127.0.0.1"
        with connection.cursor() as c:
            c.execute("INSERT INTO shop_item (name, price) VALUES (%s, %s)", ["raw", 1])
        self.assert_miss("/items/1/")
        self.assert_miss("/stats/")

    def test_a_m2m_add_invalidates_the_relation_readers(self):
        self.prime("/items/1/labels/", "/items/2/labels/", "/stats/", "/items/3/")
        code, _ = self.write("/items/1/labels/", label="new")
        self.assertEqual(code, 200)
        _, _, body = http("GET", self.cg.gateway + "/items/1/labels/")
        self.assertIn(b"new", body)
        # Both label lists read the through table; the item table and the
        # other items' rows did not change.
        self.assert_miss("/items/2/labels/")
        self.assert_hit("/stats/")
        self.assert_hit("/items/3/")

    def test_b_outbox_row_commits_with_the_write(self):
        from django.db import transaction

        settings.CACHEGATE["TENANT"] = "127.0.0.1"
        self.prime("/items/1/", "/items/2/")

        class Abort(Exception):
            pass

        # Rolled back: the row left with the write, nothing was sent.
        try:
            with transaction.atomic():
                Item.objects.filter(pk=2).update(price=11)
                self.assertEqual(OutboxEvent.objects.count(), 1, "the event is written in the write's transaction")
                raise Abort()
        except Abort:
            pass
        self.assertEqual(OutboxEvent.objects.count(), 0)
        self.assert_hit("/items/2/")
        # A savepoint rolled back inside a committed transaction takes only
        # its own writes' events with it.
        with transaction.atomic():
            item = Item.objects.get(pk=1)
            item.price = 12
            item.save()
            try:
                with transaction.atomic():
                    Item.objects.filter(pk=2).update(price=13)
                    raise Abort()
            except Abort:
                pass
            self.assertEqual(OutboxEvent.objects.count(), 1)
        # Committed outside a request: delivered at once (WAIT is on).
        self.assertEqual(OutboxEvent.objects.count(), 0)
        self.assert_miss("/items/1/")
        self.assert_hit("/items/2/")

    def test_c_crash_after_commit_keeps_the_event(self):
        self.prime("/items/3/", "/items/2/")
        # A process whose write commits and which dies before delivering:
        # its first on_commit hook exits before the outbox's hook runs.
        script = (
            "import os, django; django.setup()\n"
            "from django.conf import settings\n"
            "from django.db import transaction\n"
            "from shop.models import Item\n"
            "settings.CACHEGATE = {'INGEST_URL': %r, 'TOKEN': %r, 'TENANT': '127.0.0.1', 'FLUSH_INTERVAL': 0}\n"
            "with transaction.atomic():\n"
            "    transaction.on_commit(lambda: os._exit(3))\n"
            "    Item.objects.filter(pk=3).update(price=31)\n"
        ) % (self.cg.admin, TOKEN)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "example")]))
        proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertEqual(Item.objects.get(pk=3).price, 31, "the write committed")
        self.assertEqual(OutboxEvent.objects.count(), 1, "the event committed with it")
        self.assert_hit("/items/3/")  # not delivered yet
        with open(os.devnull, "w") as out:
            call_command("cachegate_flush", stdout=out)
        self.assertEqual(OutboxEvent.objects.count(), 0)
        self.assert_miss("/items/3/")
        self.assert_hit("/items/2/")

    def test_d_one_event_per_request(self):
        before = len(self.events())
        # Adding a label writes the label, the relation and signals
        # m2m_changed, each in autocommit: one event carries them all.
        code, _ = self.write("/items/2/labels/", label="batched")
        self.assertEqual(code, 200)
        events = self.events()
        self.assertEqual(len(events) - before, 1, events[: len(events) - before])
        tags = set(events[0]["tags"])
        self.assertTrue({"table:shop_label", "table:shop_item_labels", "shop.item:2"} <= tags, tags)

    def test_e_revoked_token_keeps_events_until_a_good_one(self):
        token = settings.CACHEGATE["TOKEN"]
        token_id = token.split("_")[1]
        code, _, body = http("POST", "%s/api/v1/tokens/%s/revoke" % (self.cg.admin, token_id),
                             headers={"Authorization": "Bearer " + TOKEN})
        self.assertEqual(code, 200, body)
        self.prime("/items/2/")
        dead_before = DeadEvent.objects.count()
        code, _ = self.write("/items/2/", price=21)
        self.assertEqual(code, 200)
        # 401: the app's setting is wrong, not the event: it waits.
        self.assertEqual(OutboxEvent.objects.count(), 1)
        self.assertEqual(DeadEvent.objects.count(), dead_before)
        self.assertIn("401", OutboxEvent.objects.get().last_error)
        self.assert_hit("/items/2/")
        settings.CACHEGATE["TOKEN"] = self.cg.tenant_token(TENANT)
        with open(os.devnull, "w") as out:
            call_command("cachegate_flush", stdout=out)
        self.assertEqual(OutboxEvent.objects.count(), 0)
        self.assert_miss("/items/2/")

    def test_7_refused_event_goes_to_dead_table(self):
        settings.CACHEGATE["TENANT"] = "Not A Tenant"
        code, _ = self.write("/items/3/", price=99)
        self.assertEqual(code, 200)
        self.assertEqual(OutboxEvent.objects.count(), 0)
        dead = list(DeadEvent.objects.all())
        self.assertEqual(len(dead), 1)
        # The tenant token refuses another tenant's event before its body
        # is checked.
        self.assertIn("403", dead[0].reason)
        self.assertIn("Not A Tenant", dead[0].reason)


class OverheadTest(unittest.TestCase):
    """The middleware's cost per request on a view that reads 20 rows."""

    def test_overhead(self):
        from django.test import RequestFactory

        from cachegate_django.middleware import CachegateMiddleware
        from shop.views import item_list

        settings.CACHEGATE = {"INGEST_URL": "", "FLUSH_INTERVAL": 0}
        Item.objects.bulk_create(Item(name="row %d" % i, price=i) for i in range(20 - Item.objects.count()))
        self.assertEqual(Item.objects.count(), 20)
        rf = RequestFactory()
        wrapped = CachegateMiddleware(item_list)

        def per_request(view, n=300):
            view(rf.get("/items/"))  # warm up
            start = time.perf_counter()
            for _ in range(n):
                view(rf.get("/items/"))
            return (time.perf_counter() - start) / n

        # The best of a few interleaved rounds of each: the machine is shared.
        plain, tagged = [], []
        for _ in range(5):
            plain.append(per_request(item_list))
            tagged.append(per_request(wrapped))
        overhead = max(0.0, min(tagged) - min(plain))
        print("\nmiddleware overhead per request (20 rows): %.3f ms" % (overhead * 1000), file=sys.stderr)
        self.assertEqual(wrapped(rf.get("/items/"))["Surrogate-Key"], "table:shop_item shop.item")
        self.assertLess(overhead, 0.005)


class TagsTest(unittest.TestCase):
    """Reads.tags and the SQL parse, without servers."""

    def test_budget_falls_back_to_list_tags(self):
        from cachegate_django import tracking

        reads = tracking.Reads()
        for pk in range(1, 11):
            reads.add_instance(Item(pk=pk))
        self.assertEqual(len(reads.tags(64)), 11)  # table + 10 rows
        self.assertEqual(reads.tags(5), ["table:shop_item", "shop.item"])

    def test_parse(self):
        from cachegate_django import sql

        cases = [
            # (sql, params, reads, row_reads, writes)
            ('SELECT "shop_item"."id" FROM "shop_item" WHERE "shop_item"."id" = %s LIMIT 21', [3],
             {"shop_item"}, {"shop_item": {"3"}}, {}),
            ('SELECT * FROM "shop_item" WHERE "shop_item"."id" IN (%s, %s)', [1, 2],
             {"shop_item"}, {"shop_item": {"1", "2"}}, {}),
            ('SELECT * FROM "shop_item" WHERE "shop_item"."name" = %s', ["x"], {"shop_item"}, {}, {}),
            ('SELECT * FROM shop_item INNER JOIN other ON x WHERE shop_item.id = %s', [1],
             {"shop_item", "other"}, {}, {}),
            ('UPDATE "shop_item" SET "price" = %s WHERE "shop_item"."id" = %s', [5, 7], set(), {},
             {"shop_item": {"7"}}),
            ('UPDATE "shop_item" SET "price" = ("shop_item"."price" + %s)', [1], set(), {}, {"shop_item": None}),
            ('DELETE FROM "shop_item" WHERE "shop_item"."id" IN (%s)', [4], set(), {}, {"shop_item": {"4"}}),
            ('INSERT INTO "shop_item" ("name") VALUES (%s)', ["x"], set(), {}, {"shop_item": None}),
            ('UPDATE unmodelled SET a = %s WHERE id = %s', [1, 2], set(), {}, {"unmodelled": None}),
            ("SAVEPOINT s1", None, set(), {}, {}),
        ]
        for text, params, reads, rows, writes in cases:
            with self.subTest(sql=text):
                st = sql.parse(text, params, False)
                self.assertEqual(st.reads, reads)
                self.assertEqual(st.row_reads, rows)
                self.assertEqual(st.writes, writes)


if __name__ == "__main__":
    unittest.main()
