// Package ensure declares JetStream streams, key-value buckets and
// consumers idempotently: create what is missing, update only what really
// differs, and leave alone what already matches.
//
// Every cachegate process declares the resources it uses at start, and
// several start at once. CreateOrUpdate* would send an update each time,
// even when nothing changed; concurrent updates of a stream while another
// process creates a consumer on it have raced inside the NATS server
// (reported by the race detector). Here a process reads the current
// configuration first and updates only on a real difference, so in steady
// state there is no update at all, and a create that loses to a concurrent
// one ("already exists" with another configuration) re-reads instead of
// failing.
//
// "Differs" compares the fields the caller set (non-zero) with the
// server's; zero fields mean "the server's default, whatever it is", since
// the server fills them in (MaxMsgs -1, AckWait 30s, ...). An update is
// sent as the current configuration with the caller's fields laid over it.
package ensure
