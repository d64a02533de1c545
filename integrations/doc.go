// Package integrations holds the app integrations that make cachegate
// automatic for the stacks its users run: django/ (a pip-installable Django
// app) and node/ (an npm package). Their own test suites run against the
// real frameworks and a real cachegate binary; this package's test builds
// that binary and runs both suites, so that `go test ./...` covers them.
package integrations
