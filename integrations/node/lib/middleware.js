// The middleware gives every response res.cacheTags(...tags), which sets
// Surrogate-Key when the headers are written, and res.changed(change),
// which declares a write: {entity, key} and/or {tags}, with an optional
// type. Declared changes are published as one event per response once the
// response has closed (the handler's writes are done), or earlier with
// `await res.publishChanges({wait: true})` for read-your-writes.
import { Publisher } from './publisher.js';

// hostTenant is cachegate's default tenant: the request's host, lower-cased,
// without port.
export function hostTenant(req) {
  const host = String(req.headers.host ?? '').trim().toLowerCase().replace(/\.$/, '');
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const i = host.lastIndexOf(':');
  return i >= 0 && host.indexOf(':') === i ? host.slice(0, i) : host;
}

// middleware(options) is an Express/Connect middleware (req, res, next).
// options: publisher (a Publisher) or the Publisher options, and tenant (a
// string or a function of the request; default hostTenant).
export function middleware(options = {}) {
  const publisher = options.publisher ?? new Publisher(options);
  const tenantOf = typeof options.tenant === 'function' ? options.tenant : () => options.tenant ?? undefined;
  return function cachegate(req, res, next) {
    const tags = new Set();
    let changes = [];
    res.cacheTags = (...list) => {
      for (const t of list.flat()) {
        if (typeof t !== 'string' || !/^[\x21-\x2b\x2d-\x7e]{1,256}$/.test(t)) {
          throw new TypeError(`cache tag ${JSON.stringify(t)}: printable ASCII without space or comma`);
        }
        tags.add(t);
      }
      return res;
    };
    res.changed = (change) => {
      changes.push(change);
      return res;
    };
    res.publishChanges = async ({ wait } = {}) => {
      const batch = changes;
      changes = [];
      if (batch.length === 0) return null;
      return publisher.publish(eventFor(tenantOf(req) ?? hostTenant(req), batch), { wait });
    };
    const writeHead = res.writeHead;
    res.writeHead = function (...args) {
      if (tags.size > 0 && !res.headersSent) {
        const have = String(res.getHeader('Surrogate-Key') ?? '').split(' ').filter(Boolean);
        res.setHeader('Surrogate-Key', [...new Set([...have, ...tags])].join(' '));
      }
      return writeHead.apply(this, args);
    };
    // 'close' follows 'finish', and also ends a response cut short: the
    // handler's writes are done either way.
    res.once('close', () => {
      res.publishChanges().catch((err) => publisher.logger.error?.(`cachegate: ${err.message}`));
    });
    next?.();
  };
}

// eventFor batches changes into one event: the tags of each change
// ("<entity>:<key>" and "<entity>", as cachegate's default mapping, plus
// its own tags); a single entity change keeps its entity and key.
function eventFor(tenant, changes) {
  const tags = new Set();
  for (const c of changes) {
    if (c.entity && c.key !== undefined) {
      tags.add(`${c.entity}:${c.key}`);
      tags.add(c.entity);
    }
    for (const t of c.tags ?? []) tags.add(t);
  }
  const ev = { tenant, type: changes.length === 1 && changes[0].type ? changes[0].type : 'app.changed', tags: [...tags] };
  if (changes.length === 1 && changes[0].entity && changes[0].key !== undefined) {
    ev.entity = changes[0].entity;
    ev.key = String(changes[0].key);
  }
  return ev;
}

// wrap(options, handler) is the plain node:http form: a request listener
// that runs the middleware, then handler(req, res).
export function wrap(options, handler) {
  const mw = middleware(options);
  return (req, res) => {
    mw(req, res);
    Promise.resolve(handler(req, res)).catch((err) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  };
}
