// Package gateway is cachegate's data plane: an HTTP caching reverse proxy
// with RFC 9111 shared-cache semantics in front of one origin, serving from a
// stack of Store layers (in-process L1, Redis L2).
package gateway
