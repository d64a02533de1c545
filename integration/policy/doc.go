// Package policy holds the end-to-end tests of the header policy through a
// running cachegate node (internal/node, started by internal/nodetest):
// the demo's policy file, parsed by config.Parse as `serve --config` would,
// in front of the real demo origin, answered with exactly the headers the
// policy promises on every route (public profile, private /account, staff
// preview, locales, CDN tag headers with and without a CDN), and a
// property test with random routes, credentials and tenants showing that
// no private response and no tenant's entry is ever served to another
// request.
//
// The package has no code of its own besides this comment: everything is
// in its tests.
package policy
