// Package compose holds no code, only the tests that keep the repository's
// docker-compose.yml and Dockerfile honest. Docker cannot run where the
// tests run, so instead of starting the stack the tests load the file with
// compose-go (the library docker compose itself uses) and check it against
// the code: every image pinned, every published port one that the service
// listens on, every CACHEGATE_* variable and subcommand one the binary
// knows, every service address pointing at a service that listens there,
// and the Dockerfile's Go version the one go.mod asks for.
package compose
