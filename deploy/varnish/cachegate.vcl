vcl 4.1;

# cachegate's VCL for Varnish 7.x with the xkey vmod (Debian: varnish and
# varnish-modules). Varnish sits in front of the cachegate gateway, which
# sends each cacheable response's CDN tags ("tenant:tag") in an `xkey`
# response header when the Varnish provider is configured.
#
# Contract with cachegate's Varnish purger (purge/varnish), for clients
# matching acl purgers only (others get 403):
#
#   PURGE  + "xkey-purge: k1 k2 ..."      hard purge of every object with any key
#   PURGE  + "xkey-softpurge: k1 k2 ..."  soft purge: stale, kept for grace/keep
#          -> 200, header "X-Purged: <objects>", body {"purged": <objects>}
#   BAN    + "X-Ban-Url: /path?query"     the objects of that URL on Host
#   BAN    + "X-Ban-Prefix: /path"        Host's URLs under /path, on segment
#                                         boundaries (/path, /path/x, /path?q;
#                                         not /pathx)
#   BAN    + "X-Ban-Host: 1"              every object of Host
#   BAN    + "X-Ban-Tenant: acme"         every object tagged for tenant acme
#          -> 200, header "X-Banned: 1"; 400 with the reason if the ban is bad
#   PURGE  with no xkey header            the classic purge of req.url on Host
#
# Hosts are compared lower-cased and without port. Clients see
# "X-Cache: HIT|MISS|PASS|STALE", "X-Cache-Hits" and a "varnish" entry
# appended to Cache-Status (RFC 9211), never the xkey header.
#
# Setting the backend: edit .host/.port below (the tests rewrite exactly
# these two lines), or keep this file as is and load a copy per site with
#   sed -e 's/"127.0.0.1"; # backend-host/"10.0.0.5"; # backend-host/' ...
# Varnish takes the backend from the VCL: varnishd -f cachegate.vcl (no -b).

import std;
import xkey;

backend default {
    .host = "127.0.0.1"; # backend-host
    .port = "8080"; # backend-port
    .connect_timeout = 2s;
    .first_byte_timeout = 60s;
    .between_bytes_timeout = 30s;
}

# Who may PURGE and BAN. Add the hosts the cachegate coordinator runs on.
acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    # Never trust these from outside: the VCL uses them internally.
    unset req.http.X-Cachegate-Pass;
    unset req.http.X-Cachegate-Stale;
    unset req.http.X-Purged;
    unset req.http.X-Cachegate-Status;

    if (req.method == "PURGE" || req.method == "BAN") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        call cachegate_invalidate;
    }

    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    # Authenticated requests never touch the cache; the session cookie names
    # follow the gateway's defaults (sessionid, session).
    if (req.http.Authorization ||
        req.http.Cookie ~ "(^|;\s*)(sessionid|session)=") {
        return (pass);
    }
    # Other cookies go on to the gateway, which ignores them for caching as
    # well; a response that sets a cookie is never stored (see below).
    return (hash);
}

sub cachegate_invalidate {
    set req.http.X-Ban-Host-Norm = regsub(std.tolower(req.http.host), ":[0-9]+$", "");
    if (req.method == "PURGE") {
        if (req.http.xkey-purge) {
            set req.http.X-Purged = xkey.purge(req.http.xkey-purge);
            return (synth(200, "Purged"));
        }
        if (req.http.xkey-softpurge) {
            set req.http.X-Purged = xkey.softpurge(req.http.xkey-softpurge);
            return (synth(200, "Purged"));
        }
        return (purge);
    }
    # BAN. Values go into a ban expression: refuse quotes and white space
    # rather than guessing how to quote them.
    if (req.http.X-Ban-Url ~ "[\s\x22\\]" || req.http.X-Ban-Prefix ~ "[\s\x22\\]" ||
        req.http.X-Ban-Tenant !~ "^[a-z0-9._-]*$" || req.http.X-Ban-Host-Norm ~ "[\s\x22\\]") {
        return (synth(400, "Bad ban value"));
    }
    if (req.http.X-Ban-Url) {
        if (std.ban("obj.http.x-host == " + req.http.X-Ban-Host-Norm +
                    " && obj.http.x-url == " + req.http.X-Ban-Url)) {
            return (synth(200, "Banned"));
        }
    } else if (req.http.X-Ban-Prefix) {
        # Escape regex metacharacters so the prefix matches literally, then
        # match on a segment boundary.
        set req.http.X-Ban-Re = regsuball(regsub(req.http.X-Ban-Prefix, "/+$", ""),
            "([.?*+^$|()\[\]{}])", "\\\1");
        if (std.ban("obj.http.x-host == " + req.http.X-Ban-Host-Norm +
                    " && obj.http.x-url ~ ^" + req.http.X-Ban-Re + "([/?]|$)")) {
            return (synth(200, "Banned"));
        }
    } else if (req.http.X-Ban-Tenant) {
        set req.http.X-Ban-Re = regsuball(req.http.X-Ban-Tenant, "\.", "\\.");
        if (std.ban("obj.http.xkey ~ (^|[\s,])" + req.http.X-Ban-Re + ":")) {
            return (synth(200, "Banned"));
        }
    } else if (req.http.X-Ban-Host) {
        if (std.ban("obj.http.x-host == " + req.http.X-Ban-Host-Norm)) {
            return (synth(200, "Banned"));
        }
    } else {
        return (synth(400, "BAN needs X-Ban-Url, X-Ban-Prefix, X-Ban-Host or X-Ban-Tenant"));
    }
    return (synth(400, "Ban failed: " + std.ban_error()));
}

sub vcl_hit {
    if (obj.ttl <= 0s) {
        set req.http.X-Cachegate-Stale = "1";
    }
}

sub vcl_pass {
    set req.http.X-Cachegate-Pass = "1";
}

sub vcl_backend_fetch {
    unset bereq.http.X-Cachegate-Pass;
    unset bereq.http.X-Cachegate-Stale;
}

sub vcl_backend_response {
    # For ban-lurker friendly bans: tests on obj.* only.
    set beresp.http.x-url = bereq.url;
    set beresp.http.x-host = regsub(std.tolower(bereq.http.host), ":[0-9]+$", "");

    # No freshness information: do not cache heuristically (Varnish would
    # use default_ttl).
    if (!beresp.http.Expires && beresp.http.Cache-Control !~ "(?i)(s-maxage|max-age)") {
        set beresp.ttl = 0s;
    }
    # Falls through to the built-in vcl_backend_response, which makes
    # Set-Cookie, Cache-Control private/no-store/no-cache, Vary: * and a zero
    # TTL uncacheable (hit-for-miss).
}

sub vcl_deliver {
    # X-Cache for people and tests; an RFC 9211 Cache-Status entry after the
    # gateway's own (the cache nearest the client comes last).
    if (req.http.X-Cachegate-Pass) {
        set resp.http.X-Cache = "PASS";
        set req.http.X-Cachegate-Status = "varnish; fwd=bypass";
    } else if (obj.hits > 0) {
        if (req.http.X-Cachegate-Stale) {
            set resp.http.X-Cache = "STALE";
            set req.http.X-Cachegate-Status = "varnish; hit; fwd=stale";
        } else {
            set resp.http.X-Cache = "HIT";
            set req.http.X-Cachegate-Status = "varnish; hit";
        }
    } else {
        set resp.http.X-Cache = "MISS";
        set req.http.X-Cachegate-Status = "varnish; fwd=miss";
    }
    if (resp.http.Cache-Status) {
        set resp.http.Cache-Status = resp.http.Cache-Status + ", " + req.http.X-Cachegate-Status;
    } else {
        set resp.http.Cache-Status = req.http.X-Cachegate-Status;
    }
    set resp.http.X-Cache-Hits = obj.hits;
    unset resp.http.xkey;
    unset resp.http.x-url;
    unset resp.http.x-host;
}

sub vcl_synth {
    if (req.http.X-Purged) {
        set resp.http.X-Purged = req.http.X-Purged;
        set resp.http.Content-Type = "application/json";
        set resp.body = {"{"purged": "} + req.http.X-Purged + {"}
"};
        return (deliver);
    }
    if (req.method == "BAN" || req.method == "PURGE") {
        if (req.method == "BAN" && resp.status == 200) {
            set resp.http.X-Banned = "1";
        }
        # A short answer for scripts, not the built-in HTML error page.
        set resp.http.Content-Type = "text/plain; charset=utf-8";
        set resp.body = resp.reason + {"
"};
        return (deliver);
    }
}
