"""The Django integration against the real framework, SQLite and a real
cachegate binary (CACHEGATE_BIN): responses are tagged with what they read,
and committed writes invalidate exactly the cached responses that read them.

Run: CACHEGATE_BIN=/path/to/cachegate /usr/bin/python3 -m unittest discover -s tests -v
"""

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


def http(method, url, data=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method=method)
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
        call_command("migrate", verbosity=0)
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

    @classmethod
    def tearDownClass(cls):
        if cls.cg:
            cls.cg.stop()
        cls.server.shutdown()
        cls.server.server_close()
        from django.db import connections

        connections.close_all()
        tmp.cleanup()

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

    def test_7_refused_event_goes_to_dead_table(self):
        settings.CACHEGATE["TENANT"] = "Not A Tenant"
        code, _ = self.write("/items/3/", price=99)
        self.assertEqual(code, 200)
        self.assertEqual(OutboxEvent.objects.count(), 0)
        dead = list(DeadEvent.objects.all())
        self.assertEqual(len(dead), 1)
        self.assertIn("400", dead[0].reason)
        self.assertIn("tenant", dead[0].reason)


if __name__ == "__main__":
    unittest.main()
