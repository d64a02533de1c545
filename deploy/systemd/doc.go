// Package systemd holds no code, only the test of cachegate.service: the
// unit is read by systemd's own checker (systemd-analyze verify, from
// Debian's systemd package) with ExecStart pointing at a freshly built
// binary, and parsed here to hold it to the binary (its command and every
// variable it sets exist) and to the hardening it promises.
package systemd
