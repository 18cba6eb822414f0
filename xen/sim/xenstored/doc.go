// Package xenstored is a model of the XenStore daemon for the simulated Xen of package sim:
// it serves each introduced domain on its xenstore_domain_interface page and store event
// channel (io/xs_wire.h, as C xenstored's domain.c does), and in-process clients acting as a
// given domain (the toolstack and backends in dom0) over net.Pipe.
//
// It enforces what guests run into on real Xen: permissions per node (owner, then per-domain
// access, the first entry's access as the default; xenstored_core.c perm_for_conn), ENOENT
// versus EACCES for missing nodes (errno_from_parents), nodes created by a guest owned by it,
// transactions that fail with EAGAIN at commit when a node they read or wrote changed
// (including a child added to a directory they touched), and watches that fire once on
// registration, on changes at or below their path, on removals above them, and only for
// domains allowed to read the changed node.
//
// The toolstack helpers lay out a guest's home (MakeDomain, after libxl__domain_make) and a
// vif (AddVif, after libxl__device_nic_add), checked key by key in testdata/vif-layout.txt.
// It is also the tests' one fake xenstored: package xenstoretest sets it up for unit tests of a
// single guest's client, and Fail, FailCommits and Count let a test make the daemon refuse
// requests and see how many it got.
package xenstored
