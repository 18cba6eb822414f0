// Package xsdaemon is the daemon's side of XenStore's transports, for the simulator's xenstored:
// the daemon's half of a domain's interface page (Ring), a connection's request loop (Serve)
// and reply queue (Outbox), a connection's watch list (Watches) and the path arithmetic of the
// node tree. The store's own rules (nodes, permissions, transactions) are package xenstored's.
package xsdaemon
