# make test: every test, on a fresh machine with only Go installed. It
# installs the real servers the integration tests run against (Debian's
# redis-server, redis-sentinel, memcached, varnish + varnish-modules,
# chromium, prometheus for promtool) and the app integrations' frameworks
# (python3-django and pip for its wheel, nodejs and node-express) and the
# interpreters the API examples in docs/examples run on (ruby, curl) when
# they are missing.

GO ?= go
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBIAN_PACKAGES := redis-server redis-tools redis-sentinel memcached varnish varnish-modules chromium prometheus python3-django python3-pip nodejs node-express ruby curl systemd

.PHONY: test deps vet unit bench fuzz demo chaos integrations

test: deps vet
	$(GO) test -race -count=1 -timeout 14m ./...

deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v redis-cli >/dev/null || missing="$$missing redis-tools"; \
	command -v redis-sentinel >/dev/null || missing="$$missing redis-sentinel"; \
	command -v memcached >/dev/null || missing="$$missing memcached"; \
	command -v varnishd >/dev/null || [ -x /usr/sbin/varnishd ] || missing="$$missing varnish"; \
	ls /usr/lib/*/varnish/vmods/libvmod_xkey.so >/dev/null 2>&1 || missing="$$missing varnish-modules"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	/usr/bin/python3 -c 'import django' 2>/dev/null || missing="$$missing python3-django"; \
	/usr/bin/python3 -m pip --version >/dev/null 2>&1 || missing="$$missing python3-pip"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	[ -d /usr/share/nodejs/express ] || missing="$$missing node-express"; \
	command -v ruby >/dev/null || missing="$$missing ruby"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

vet:
	$(GO) vet ./...

# chaos: the long fault suite (outages of 30 s, CDN outages of 3 minutes;
# the NATS cluster's stream leader killed five times in turn; the Sentinel
# primary and a memcached server killed; the link between two regions
# down for 30 s; publish → applied with 10, 50 and 100 instances; events/s
# with 1, 2 and 4 coordinators; 1,000,000 invalidation records); make test
# runs its short form.
# CACHEGATE_CHAOS_REPORT=FILE writes the table, CACHEGATE_CHAOS_LOGS=DIR
# keeps the processes' logs.
chaos: deps
	CACHEGATE_CHAOS=long $(GO) test -count=1 -timeout 60m -run '^TestChaos$$' -v ./integration/chaos/
	CACHEGATE_CHAOS=long $(GO) test -count=1 -timeout 20m -run '^(TestNATSClusterLeaderKilled|TestSentinelFailover|TestRegionsShareEvents|TestMemcachedServerKilled)$$' -v ./integration/cluster/
	CACHEGATE_SCALE=long $(GO) test -count=1 -timeout 10m -run '^(TestPublishToAppliedManyInstances|TestPartitionedThroughput)$$' -v ./events/
	CACHEGATE_SCALE=long $(GO) test -count=1 -timeout 10m -run '^TestInvalidationRecordsAtScale$$' -v ./gateway/memstore/ ./gateway/redisstore/

# integrations: the Django and Node integrations' suites against a real
# cachegate (make test runs them too, through ./integrations).
integrations: deps
	$(GO) test -count=1 -v -run 'Test(Django|Node)$$' ./integrations/

unit:
	$(GO) test -short ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

demo:
	$(GO) run ./cmd/cachegate demo
