// The Node integration against a real cachegate: responses tagged with
// res.cacheTags, writes declared with res.changed, invalidating exactly the
// responses that carry their tags; an unreachable cachegate leaves events
// in the outbox until a flush delivers them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Publisher, PublishError, wrap, hostTenant } from '../index.js';
import { TOKEN, cacheStatus, listen, startCachegate, waitFor } from './helpers.js';

const quiet = { warn() {}, error() {} };

describe('cachegate node integration', () => {
  const prices = new Map([['1', 1], ['2', 2]]);
  const publisher = new Publisher({ token: TOKEN, retries: 1, retryDelayMs: 10, flushIntervalMs: 0, logger: quiet });
  let origin;
  let cg;
  const dir = mkdtempSync(join(tmpdir(), 'cachegate-node-'));

  const handler = wrap({ publisher }, async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const m = url.pathname.match(/^\/items\/(\d+)$/);
    if (req.method === 'GET' && url.pathname === '/items') {
      res.cacheTags('item');
      res.setHeader('Cache-Control', 'public, max-age=300');
      res.end(JSON.stringify([...prices]));
    } else if (req.method === 'GET' && m) {
      res.cacheTags(`item:${m[1]}`);
      res.setHeader('Cache-Control', 'public, max-age=300');
      res.end(JSON.stringify({ id: m[1], price: prices.get(m[1]) }));
    } else if (req.method === 'POST' && m) {
      prices.set(m[1], Number(url.searchParams.get('price')));
      res.changed({ entity: 'item', key: m[1], type: 'item.updated' });
      if (url.searchParams.get('wait')) await res.publishChanges({ wait: true });
      res.end('ok');
    } else {
      res.statusCode = 404;
      res.end();
    }
  });

  before(async () => {
    origin = await listen(handler);
    cg = await startCachegate(origin.url);
    publisher.ingestURL = cg.admin;
  });
  after(async () => {
    await cg?.stop();
    origin?.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const hit = async (path) => assert.match(await cacheStatus(cg.gateway + path), /; hit/, `${path} should be a hit`);
  const miss = async (path) => assert.doesNotMatch(await cacheStatus(cg.gateway + path), /; hit/, `${path} should be invalidated`);
  const prime = async (...paths) => {
    for (const p of paths) {
      await cacheStatus(cg.gateway + p);
      await hit(p);
    }
  };

  test('sets Surrogate-Key from res.cacheTags', async () => {
    const res = await fetch(`${origin.url}/items/1`);
    await res.text();
    assert.equal(res.headers.get('surrogate-key'), 'item:1');
  });

  test('a write with wait invalidates exactly its readers before it answers', async () => {
    await prime('/items/1', '/items/2', '/items');
    const res = await fetch(`${origin.url}/items/1?price=50&wait=1`, { method: 'POST' });
    assert.equal(res.status, 200);
    await miss('/items/1');
    await miss('/items');
    await hit('/items/2');
  });

  test('a declared change is published after the response finishes', async () => {
    await prime('/items/1', '/items/2');
    const res = await fetch(`${origin.url}/items/2?price=60`, { method: 'POST' });
    assert.equal(res.status, 200);
    await waitFor('the invalidation of /items/2', async () => !/; hit/.test(await cacheStatus(cg.gateway + '/items/2')));
    await hit('/items/1');
  });

  test('a bad event is rejected, not queued', async () => {
    await assert.rejects(publisher.publish({ tenant: 'Not A Tenant', tags: ['x'] }), (err) => err instanceof PublishError && err.status === 400);
    assert.equal(publisher.outbox.length, 0);
  });

  test('an unreachable cachegate queues the event in the file outbox; a flush after restart applies it', async () => {
    const outboxFile = join(dir, 'outbox.jsonl');
    const p1 = new Publisher({ ingestURL: cg.admin, token: TOKEN, retries: 1, retryDelayMs: 10, outboxFile, flushIntervalMs: 0, logger: quiet });
    await cg.stop();
    const r = await p1.publish({ tenant: '127.0.0.1', entity: 'item', key: '1' });
    assert.equal(r.queued, true);
    assert.equal(readFileSync(outboxFile, 'utf8').trim().split('\n').length, 1);
    // A new process finds the event in the file.
    cg = await startCachegate(origin.url);
    publisher.ingestURL = cg.admin;
    const p2 = new Publisher({ ingestURL: cg.admin, token: TOKEN, outboxFile, flushIntervalMs: 0, wait: true, logger: quiet });
    assert.equal(p2.outbox.length, 1);
    await prime('/items/1', '/items/2');
    assert.deepEqual(await p2.flush(), { delivered: 1, dead: 0, left: 0 });
    assert.equal(readFileSync(outboxFile, 'utf8'), '');
    await miss('/items/1');
    await hit('/items/2');
  });

  test('the background flush delivers the outbox', async () => {
    const p = new Publisher({ token: TOKEN, retries: 0, flushIntervalMs: 50, wait: true, logger: quiet });
    const r = await p.publish({ tenant: '127.0.0.1', entity: 'item', key: '2' });
    assert.equal(r.queued, true); // no ingestURL yet
    await prime('/items/2');
    p.ingestURL = cg.admin;
    await waitFor('the background flush', () => p.outbox.length === 0);
    await miss('/items/2');
  });

  test('hostTenant strips the port', () => {
    assert.equal(hostTenant({ headers: { host: 'Shop.Example.com:8080' } }), 'shop.example.com');
    assert.equal(hostTenant({ headers: { host: '[::1]:80' } }), '::1');
  });
});
