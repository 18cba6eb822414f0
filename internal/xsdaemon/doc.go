// Package xsdaemon is the daemon's side of XenStore's transports, shared by the two daemons
// the tests run: xenstoretest's single-guest fake and the simulator's xenstored. It holds the
// mechanics both need and neither should own: the daemon's half of a domain's interface page
// (Ring), a connection's reply queue (Outbox), a connection's watch list (Watches) and the
// path arithmetic of the node tree.
package xsdaemon
