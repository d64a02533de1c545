// Publisher sends change events to cachegate's HTTP ingest
// (POST <ingestURL>/api/v1/events, bearer token). An event cachegate
// cannot accept now (connection error, 503 "not accepted", other 5xx, a
// wrong token) is retried, then kept in the outbox (memory, and a JSON-lines
// file when outboxFile is set) and delivered by flush(), which runs in the
// background while the outbox is not empty: a fault delays an event, never
// drops it. A 400 is a bad event: it is rejected (publish) or moved to the
// dead list and file (flush), with the reason.
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export class PublishError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'PublishError';
    this.status = status;
  }
}

const DELIVERED = 'delivered';
const RETRY = 'retry';
const DEAD = 'dead';

export class Publisher {
  // options: ingestURL, token, tenant (default tenant of events without
  // one), retries (default 3), retryDelayMs (default 200, doubled per
  // retry), timeoutMs (default 2000), wait (default false: ?wait=1, resolve
  // once the invalidation is applied), outboxFile, flushIntervalMs
  // (default 5000; 0: no background flush), logger (default console).
  constructor(options = {}) {
    this.ingestURL = options.ingestURL ?? '';
    this.token = options.token ?? '';
    this.tenant = options.tenant;
    this.retries = options.retries ?? 3;
    this.retryDelayMs = options.retryDelayMs ?? 200;
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.wait = options.wait ?? false;
    this.outboxFile = options.outboxFile;
    this.flushIntervalMs = options.flushIntervalMs ?? 5000;
    this.logger = options.logger ?? console;
    this.outbox = [];
    this.dead = [];
    this.timer = null;
    this.flushing = null;
    if (this.outboxFile && existsSync(this.outboxFile)) {
      this.outbox = readFileSync(this.outboxFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
      this.schedule();
    }
  }

  // event builds a complete event from a partial one.
  event(e) {
    const ev = { ...e };
    ev.id ??= randomUUID();
    ev.tenant ??= this.tenant;
    ev.occurred_at ??= new Date().toISOString();
    return ev;
  }

  // publish sends one event. It resolves {id, applied?} once cachegate
  // accepted it, or {id, queued: true} once it is in the outbox; it rejects
  // with a PublishError(400) for a bad event.
  async publish(e, { wait = this.wait } = {}) {
    const ev = this.event(e);
    let last = '';
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (attempt > 0) await sleep(this.retryDelayMs * 2 ** (attempt - 1));
      const r = await this.send(ev, wait);
      if (r.outcome === DELIVERED) return { id: ev.id, ...r.body };
      if (r.outcome === DEAD) throw new PublishError(r.status, `cachegate refused event ${ev.id}: ${r.detail}`);
      last = r.detail;
    }
    this.logger.warn?.(`cachegate event ${ev.id} kept in the outbox: ${last}`);
    this.enqueue(ev);
    return { id: ev.id, queued: true };
  }

  enqueue(ev) {
    this.outbox.push(ev);
    if (this.outboxFile) appendFileSync(this.outboxFile, JSON.stringify(ev) + '\n');
    this.schedule();
  }

  async send(ev, wait) {
    if (!this.ingestURL) return { outcome: RETRY, detail: 'no ingestURL' };
    const url = this.ingestURL.replace(/\/+$/, '') + '/api/v1/events' + (wait ? '?wait=1' : '');
    let res;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${this.token}` },
        body: JSON.stringify(ev),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      return { outcome: RETRY, detail: String(err.cause?.code ?? err.cause ?? err) };
    }
    const text = await res.text();
    let body = {};
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text as the detail
    }
    const detail = `${res.status} ${text.trim()}`;
    if (res.status === 200 || res.status === 202) return { outcome: DELIVERED, body };
    // With wait, 504 means durably accepted and applied later.
    if (res.status === 504 && wait) return { outcome: DELIVERED, body };
    if (res.status === 400 || res.status === 413 || res.status === 422) return { outcome: DEAD, status: res.status, detail };
    return { outcome: RETRY, status: res.status, detail };
  }

  // flush delivers the outbox in order and stops at the first event that
  // must wait (cachegate is still unreachable). It resolves to
  // {delivered, dead, left}.
  flush() {
    this.flushing ??= this.flushOnce().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  async flushOnce() {
    let delivered = 0;
    let dead = 0;
    while (this.outbox.length > 0) {
      const ev = this.outbox[0];
      const r = await this.send(ev, this.wait);
      if (r.outcome === RETRY) break;
      this.outbox.shift();
      if (r.outcome === DEAD) {
        this.logger.error?.(`cachegate refused event ${ev.id}: ${r.detail}`);
        this.dead.push({ event: ev, reason: r.detail });
        if (this.outboxFile) appendFileSync(this.outboxFile + '.dead', JSON.stringify({ event: ev, reason: r.detail }) + '\n');
        dead++;
      } else {
        delivered++;
      }
      this.saveOutbox();
    }
    return { delivered, dead, left: this.outbox.length };
  }

  saveOutbox() {
    if (!this.outboxFile) return;
    // Write then rename: a crash leaves the old or the new file, never half.
    const tmp = this.outboxFile + '.tmp';
    writeFileSync(tmp, this.outbox.map((e) => JSON.stringify(e) + '\n').join(''));
    renameSync(tmp, this.outboxFile);
  }

  schedule() {
    if (this.timer || this.flushIntervalMs <= 0) return;
    this.timer = setInterval(async () => {
      if (this.outbox.length === 0) {
        this.stop();
        return;
      }
      try {
        await this.flush();
      } catch (err) {
        this.logger.error?.(`cachegate outbox flush failed: ${err}`);
      }
    }, this.flushIntervalMs);
    // The outbox is on disk (or the app is exiting anyway): do not keep
    // the process alive for it.
    this.timer.unref();
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }
}
