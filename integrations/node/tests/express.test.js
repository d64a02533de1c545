// The middleware in a real Express app (Debian's node-express, found through
// NODE_PATH=/usr/share/nodejs): tags set by handlers reach cachegate, and a
// route's declared change invalidates exactly its readers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import { Publisher, middleware } from '../index.js';
import { TOKEN, cacheStatus, startCachegate } from './helpers.js';

const require = createRequire(import.meta.url);

function loadExpress() {
  try {
    return require('express');
  } catch (err) {
    throw new Error(`express is not installed: install Debian's node-express (make deps does) and run with NODE_PATH=/usr/share/nodejs (${err.message})`);
  }
}

describe('cachegate with Express', () => {
  const express = loadExpress();
  const quiet = { warn() {}, error() {} };
  const publisher = new Publisher({ token: TOKEN, retries: 1, retryDelayMs: 10, flushIntervalMs: 0, logger: quiet });
  const prices = new Map([['1', 10], ['2', 20]]);
  let server;
  let cg;

  before(async () => {
    const app = express();
    app.use(middleware({ publisher }));
    app.get('/items/:id', (req, res) => {
      res.cacheTags(`item:${req.params.id}`);
      res.set('Cache-Control', 'public, max-age=300');
      res.json({ id: req.params.id, price: prices.get(req.params.id) });
    });
    app.post('/items/:id', async (req, res) => {
      prices.set(req.params.id, Number(req.query.price));
      res.changed({ entity: 'item', key: req.params.id });
      await res.publishChanges({ wait: true });
      res.sendStatus(204);
    });
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cg = await startCachegate(`http://127.0.0.1:${server.address().port}`);
    publisher.ingestURL = cg.admin;
  });
  after(async () => {
    await cg?.stop();
    server?.close();
  });

  test('handler tags reach the response', async () => {
    const res = await fetch(`http://127.0.0.1:${server.address().port}/items/1`);
    await res.text();
    assert.equal(res.headers.get('surrogate-key'), 'item:1');
  });

  test('a declared change invalidates exactly its readers', async () => {
    for (const p of ['/items/1', '/items/2']) {
      await cacheStatus(cg.gateway + p);
      assert.match(await cacheStatus(cg.gateway + p), /; hit/, `${p} primed`);
    }
    const res = await fetch(`http://127.0.0.1:${server.address().port}/items/1?price=11`, { method: 'POST' });
    assert.equal(res.status, 204);
    assert.doesNotMatch(await cacheStatus(cg.gateway + '/items/1'), /; hit/);
    assert.match(await cacheStatus(cg.gateway + '/items/2'), /; hit/);
    const body = await (await fetch(cg.gateway + '/items/1')).json();
    assert.equal(body.price, 11);
  });
});
