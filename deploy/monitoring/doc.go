// Package monitoring holds no code, only the tests that keep the shipped
// monitoring honest: the Prometheus alert rules (deploy/prometheus) pass
// promtool, the Grafana dashboard (deploy/grafana) is valid against the
// dashboard schema kept next to it, and every metric either names is one a
// running node serves from its start.
package monitoring
