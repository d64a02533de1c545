// Test helpers: a real cachegate process (CACHEGATE_BIN) and an origin
// built with the middleware.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

export const TOKEN = 'node-integration-test-token';

export async function startCachegate(origin) {
  const bin = process.env.CACHEGATE_BIN;
  if (!bin) throw new Error('set CACHEGATE_BIN to a built cachegate binary (go build ./cmd/cachegate)');
  const proc = spawn(bin, ['serve', '--origin', origin, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--log-level', 'warn'], {
    env: { ...process.env, CACHEGATE_ADMIN_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const addrs = {};
  const exited = once(proc, 'exit');
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cachegate did not start:\n${output}`)), 30000);
    const onData = (chunk) => {
      output += chunk;
      for (const m of output.matchAll(/^(gateway|admin) listening on (\S+)$/gm)) addrs[m[1]] = m[2];
      if (addrs.gateway && addrs.admin) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`cachegate exited:\n${output}`));
    });
  });
  return {
    gateway: `http://${addrs.gateway}`,
    admin: `http://${addrs.admin}`,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await exited.catch(() => {});
      }
    },
  };
}

export async function listen(handler) {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}

export async function cacheStatus(url) {
  const res = await fetch(url);
  await res.text();
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return res.headers.get('cache-status') ?? '';
}

export async function waitFor(what, cond, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
