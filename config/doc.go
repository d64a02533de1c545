// Package config owns cachegate's config file: the YAML of
// `cachegate serve --config FILE` and `cachegate check-config FILE`.
//
// Load reports every problem of a file at once, each as "FILE:LINE:
// message" (type Errors): unknown keys with a did-you-mean, wrong types, bad
// durations, sizes, addresses, URLs and globs, conflicting directives,
// unreachable rules, unknown providers and placeholders, invalid tenants and
// tags. It walks yaml.v3 nodes (go.yaml.in/yaml/v3, the maintained
// successor of gopkg.in/yaml.v3) by hand rather than unmarshalling into
// structs, because yaml.Unmarshal stops at the first type error and has no
// line for semantic errors; the policy checks themselves live in
// policy.Check and are only placed on their lines here, so the config
// and the compiled policy cannot disagree.
//
// A File is plain data whose zero fields mean "not set": the command applies
// flags and CACHEGATE_* variables on top field by field, then calls
// File.Validate (which also checks what must be present in the end, such as
// the origin and the CDN credentials), then converts with File.Policy.
//
// # Schema
//
// Durations are Go durations or days: "90s", "5m", "1h30m", "7d"; a bare
// number other than 0 is an error (its unit would be a guess). Sizes are
// bytes with an optional unit: "65536", "512KiB", "256MiB", "1GB". Strings
// holding secrets (admin.token, redis.url, redis.password, nats.token,
// nats.password, the CDN api_tokens) may contain ${NAME}, replaced by the
// environment variable NAME, which must be set; secrets are of type Secret
// and never print. YAML
// anchors, aliases and merge keys ("<<: *common") work; explicit keys win
// over merged ones.
//
//	listen: 127.0.0.1:8080        # gateway address (port 0: any free port)
//	admin_listen: 127.0.0.1:9090  # admin API and dashboard
//	origin: http://127.0.0.1:8081 # required (here, --origin or CACHEGATE_ORIGIN)
//	cache_name: cachegate         # the name in Cache-Status
//	data_dir: .cachegate          # embedded NATS storage; empty: temporary
//	session_cookies: [sessionid, session]  # [] for none; absent: these two
//	server_header: cachegate      # absent: keep the origin's; false or "": remove
//	via: true                     # add "Via: 1.1 <cache_name>" (default true)
//	metrics_listen: 127.0.0.1:9091  # /metrics alone, unauthenticated; absent: admin listener only
//	log:
//	  format: text                # or json (--log-format, CACHEGATE_LOG_FORMAT)
//	  access: false               # one line per gateway request (--access-log)
//	  access_sample: 1            # fraction logged, 0 to 1; server errors always (0 or absent: all)
//	l1: { max_bytes: 256MiB }       # absent: half the memory limit (GOMEMLIMIT, cgroup), else 256MiB
//	limits: { max_object_size: 8MiB, origin_timeout: 10s, max_header_bytes: 64KiB }
//	cache:
//	  heuristic_freshness: false  # RFC 9111 4.2.2: 10% of the Last-Modified age (default off)
//	  keep: 1h                    # how long a stale response with a validator is kept to revalidate
//	  early_refresh_beta: 1       # XFetch: a fresh hit refreshes in the background before expiry with
//	                              # probability rising as expiry nears, scaled by fetch time × beta;
//	                              # 0 or absent: 1; negative: off
//	  targeted_fields: [Cachegate-Cache-Control, CDN-Cache-Control]  # RFC 9213, in order (default)
//	redis:                        # absent: no L2
//	  url: redis://:${REDIS_PASSWORD}@127.0.0.1:6379/0   # one server, or
//	                              # redis-sentinel://:pw@s1:26379,s2:26379/mymaster, or
//	                              # memcached://a:11211,b:11211 (then key_prefix only), or:
//	  addrs: [a:6379, b:6379]     # a cluster, or sentinels with master_name
//	  master_name: mymaster
//	  username: cachegate
//	  password: ${REDIS_PASSWORD}
//	  db: 0
//	  tls: false
//	  key_prefix: cg
//	nats:                         # absent url: an embedded server
//	  url: nats://127.0.0.1:4222
//	  # at most one kind of credentials for a standalone server
//	  # (docs/nats-permissions.md says what each role may do):
//	  credentials: /etc/cachegate/nats.creds  # a .creds file (JWT + seed), or
//	  nkey_seed: /etc/cachegate/nats.nk       # a user nkey seed file, or
//	  token: ${NATS_TOKEN}                    # a token, or
//	  user: cachegate                         # user and password
//	  password: ${NATS_PASSWORD}
//	  replicas: 3                 # of every stream and bucket, on a NATS cluster (default 1)
//	  partitions: 4               # events spread by tenant, one coordinator per partition
//	                              # at a time (1 to 64; absent: the stream's, 4 for a new
//	                              # one; fixed once the stream exists)
//	  embedded_listen: 127.0.0.1:4222  # expose the embedded server (absent:
//	                                   # in-process only); clients need the nkey
//	                                   # seed it writes to <data_dir>/nats/client.nk
//	  region: west                # this region's name, the JetStream domain of its
//	                              # servers (absent: one region); needs nats.url
//	  sources: [east]             # other regions whose events this one applies
//	                              # (their streams, over a leaf node link)
//	esi:                        # fragment assembly (routes' esi: assemble)
//	  timeout: 5s               # one include's fetch (src, then alt)
//	  max_depth: 5              # how deep includes nest (at most 20)
//	l2:
//	  admission: always         # always (default): every fill goes to L2; frequent: only
//	                            # fills of a key this instance was asked for before (a
//	                            # TinyLFU doorkeeper), so one-hit wonders stay out of Redis
//	warm:                       # refetch hot URLs after an invalidation
//	  enabled: false            # default off: warming adds origin load right after purges
//	  top_k: 100                # URLs tracked per tenant (Space-Saving: memory is bounded)
//	  rate: 10                  # refetches per second per tenant; over it, a URL is left
//	  origin_rate: 50           # to its next reader (counted); on-demand jobs
//	  burst: 10                 # (cachegate warm) wait instead. Never private routes.
//	  max_tenants: 256          # tenants tracked (about top_k × 300 bytes each)
//	admin: { token: ${CACHEGATE_ADMIN_TOKEN} }
//	tenants:
//	  by: host          # host (default) | subdomain | header | path_prefix
//	  domains: [example.com]   # by: subdomain: acme.example.com -> acme
//	  header: X-Tenant         # by: header
//	  hosts: { shop.acme.de: acme, "*.berg.example": berg }  # wins in every mode
//	  fallback: main           # tenant of requests whose tenant is missing or invalid;
//	                           # absent: those requests bypass the cache
//	routes:                     # ordered; the first match wins
//	  - name: product           # in stats and logs; default: the path
//	    match:                  # every field given must match; none: every request
//	      host: [shop.example.com, "*.example.com"]
//	      tenant: [acme]
//	      path: "/products/{id}"  # see below
//	      methods: [GET]          # GET also matches HEAD
//	      cookie: [ab_test]       # present (any value)
//	      header: [X-Variant]     # present (any value)
//	    private: false          # true: never shared; conflicts with every caching key below
//	    ttl: 1h                 # gateway layers' freshness; "origin" (default) respects the origin;
//	                            # "auto": learned per instance from changes (a revalidation's 200
//	                            # with a new validator, an invalidation dropping the route's entries)
//	                            # and reads: fraction × mean change interval for URLs read often,
//	                            # longer for URLs read rarely (the same share of reads may be
//	                            # stale), max when events announce every change; clamped
//	    auto_ttl: { min: 1m, max: 1d, fraction: 0.25 }  # ttl: auto's bounds (these are the defaults)
//	    origin: respect         # respect (default): an origin's no-store, private, no-cache win over ttl;
//	                            # override: ttl, stale windows, browser and cdn apply whatever the origin
//	                            # says (needs ttl; never overrides Authorization, session cookies, Set-Cookie)
//	    esi: assemble           # assemble <esi:include> (shell fetched without credentials);
//	                            # pass: leave includes to a CDN that assembles them;
//	                            # absent: assemble when the origin sends Surrogate-Control: content="ESI/1.0"
//	    browser: public, max-age=60   # Cache-Control sent to clients
//	    cdn: max-age=86400            # directives for the CDN ...
//	    cdn_header: Surrogate-Control # ... in this header (default: cdn.header)
//	    stale_while_revalidate: 1m
//	    stale_if_error: 1h
//	    early_refresh_beta: 2   # the route's XFetch beta (cache.early_refresh_beta); 0: no early refresh
//	    tags: ["product:{id}", "{tenant}-catalog"]  # placeholders: path parameters, {tenant}, {host}, {path}
//	    locales: [en, de]       # Accept-Language is normalized to one of these
//	    staff_bypass: { cookie: staff_preview, header: X-Preview }  # uncached, for editors
//	default:                    # a rule without match, applied when no route matched
//	  ttl: origin
//	cdn:
//	  provider: none            # none | cloudflare | fastly | akamai | varnish
//	  providers: [cloudflare, varnish]  # several at once instead of provider:
//	                            # (e.g. Varnish in front of the gateway and
//	                            # Cloudflare in front of Varnish): each gets its
//	                            # tag header on responses and every purge; with
//	                            # varnish listed, every tag header fits Varnish's 8 KB
//	  coalesce_window: 1s       # purges merged within this window
//	  retry_backoff: 500ms      # first wait after a temporary CDN failure; doubles up to
//	  retry_backoff_max: 30s    # this cap. Temporary failures are retried until they succeed
//	  call_timeout: 30s         # one CDN API call; a hanging call is retried after it
//	  header: CDN-Cache-Control # default: the one CDN's own (Cloudflare-CDN-Cache-Control,
//	                            # Surrogate-Control for Fastly; Varnish does not count: the
//	                            # shipped VCL reads Cache-Control), else CDN-Cache-Control
//	  hosts: { acme: acme.example.com }   # tenant -> public host, for URL and prefix purges
//	  purge_region: origin      # with nats.region: which region sends an event's purges:
//	                            # origin (where it was published; default), a region's
//	                            # name (that one, for every event), or every (each
//	                            # region; required with varnish, a layer of each region)
//	  cloudflare: { api_token: ${CF_API_TOKEN}, base_url: ..., plan: enterprise,
//	                zone: <32 hex>, zones: { acme: <32 hex> } }
//	  fastly: { api_token: ${FASTLY_API_TOKEN}, base_url: ..., service_id: ..., services: { acme: ... }, soft_purge: true }
//	  varnish: { urls: [http://127.0.0.1:6081], soft: false, timeout: 5s }
//	events:
//	  coordinator: true           # false: gateway only, coordinators run on other nodes (needs nats.url)
//	  rules:
//	    - type: product.updated   # "*" for every type
//	      tags: ["category:{data.category_id}"]  # {tenant} {type} {entity} {key} {id} {data.x}
//	      replace_default: false  # true drops the default <entity>:<key> and <entity>
//
// # Paths
//
// A path without '*' or '{' is a prefix on segment boundaries: /account
// matches /account and /account/settings, not /accounts; "/" matches
// everything. Otherwise it is matched whole: {name} is one segment, captured
// for tag templates; '*' within a segment matches any characters but '/';
// a final /** matches any further segments; a final {$} makes a literal path
// exact ("/{$}" is the home page only, as in net/http's ServeMux).
//
// # What Load rejects
//
// Besides syntax and types: a private route with ttl, browser, cdn,
// cdn_header, stale_*, tags, staff_bypass or origin; browser or cdn directives that
// do not parse, are unknown, repeat, or conflict (no-store with max-age,
// public with private, private in cdn, a private browser value with cdn
// directives); a rule that an earlier rule always matches first (after a
// catch-all, or under a broader prefix with no narrower conditions); two
// rules with one name; tag templates with unknown placeholders or
// characters a tag may not hold; invalid tenants (invalidation.ValidateTenant)
// and locales; an unknown CDN provider, one listed twice, "none" in a list,
// both provider and providers, or a provider without its zone, service,
// URLs or API token (on the line naming the provider); a CDN provider
// section for a provider that is not selected; event
// rules without type, twice for a type, or replacing the defaults with
// nothing; origin: override without a ttl, or an origin mode other than
// respect or override; a targeted field that is not a field name, or is
// Cache-Control.
//
// # Who decides
//
// A rule about a setting lives once, in the package that uses the
// setting: gateway (origin, cache_name, server_header, log.access_sample,
// the limits, cache.targeted_fields through headers), memstore (l1), policy
// (the routes, default, tenants, session cookies), redisstore and memcachestore (redis), events
// (nats credentials and URLs, event rules), natsserver (embedded_listen),
// the purgers (cdn.cloudflare, cdn.fastly, cdn.varnish; the Cloudflare
// zone ID) and cdn (provider names and plans). Packages name the setting
// at fault (internal/setting); Load converts the sections with the same
// functions the assembly uses (File.Gateway, L1.Store, Redis.Store, Redis.MemcachedStore,
// NATS.Conn, File.Embedded, CDN.Purgers, CDN.Target, CDN.Dispatcher,
// Events.Mapper) and places each problem on its setting's line, or on the
// line that selects the provider when the setting is missing; Validate
// reports the same problems without lines. What stays here is what no
// other package owns: which sections go together, the notation of sizes,
// durations and numbers (their ranges are the using package's) and YAML
// itself; the listen addresses are checked and opened by
// internal/listeners. No setting is accepted and then ignored:
// TestEveryKeyReachesAPackage changes each one and checks that what the
// packages are given changes.
//
// # What Load warns about
//
// File.Warnings (check-config prints them and still succeeds) name a rule's
// ttl that cannot take effect whatever the origin sends: 0, longer than the
// gateway keeps anything, or on a rule that matches no GET or HEAD.
package config
