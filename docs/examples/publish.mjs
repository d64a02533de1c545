// Publish a change event with a tenant's publish-only token, wait until it
// is applied, then purge a tag with the admin token. Node 18+ (fetch), no
// packages.
//
//   CACHEGATE_URL=http://127.0.0.1:9090 \
//   CACHEGATE_TENANT_TOKEN=cgt_... CACHEGATE_ADMIN_TOKEN=... node publish.mjs
const url = process.env.CACHEGATE_URL ?? "http://127.0.0.1:9090";

// post sends body as JSON and returns the decoded answer, or throws with
// the server's message (a 503 means not accepted: send it again).
async function post(path, token, body) {
  const resp = await fetch(url + path, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await resp.json();
  if (!resp.ok) throw new Error(`${path}: HTTP ${resp.status}: ${answer.error}`);
  return answer;
}

// 1. The app publishes "company acme was updated"; wait=1 answers once
//    every live instance dropped the tags (200, "applied": true).
const event = await post("/api/v1/events?wait=1", process.env.CACHEGATE_TENANT_TOKEN,
  { tenant: "acme", type: "company.updated", entity: "company", key: "acme" });
console.log(JSON.stringify(event));
if (!event.applied) throw new Error("the event was not applied");

// 2. An operator purges everything tagged gallery:acme.
const purge = await post("/api/v1/purge?wait=1", process.env.CACHEGATE_ADMIN_TOKEN,
  { tenant: "acme", tags: ["gallery:acme"] });
console.log(JSON.stringify(purge));
if (!purge.applied) throw new Error("the purge was not applied");
