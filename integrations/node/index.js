// cachegate for Node: tag responses (res.cacheTags) and publish change
// events (res.changed, Publisher) to cachegate's HTTP ingest.
export { Publisher, PublishError } from './lib/publisher.js';
export { middleware, wrap, hostTenant } from './lib/middleware.js';
