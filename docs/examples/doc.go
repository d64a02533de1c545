// Package examples holds the API examples of the docs (curl, Python, Node,
// Ruby) and the test that runs each of them against a real node: an app's
// event published with its tenant's publish-only token and a purge by tag,
// both waited for until applied, and the cached pages they name gone.
package examples
