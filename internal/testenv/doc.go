// Package testenv starts the real servers that integration tests run
// against (redis-server, a Redis Cluster, memcached, an embedded NATS
// server with JetStream, a standalone nats-server process built from the
// version in go.mod, varnishd, Chromium) on loopback and free ports, and
// stops them when the test ends; fault tests stop, pause and restart them.
// It is the one helper every integration test shares. A missing server
// binary fails the test with what to install; nothing is skipped silently.
package testenv
