// Package sim is a simulated Xen for host tests: domains with their own guest memory, and a
// per-domain xen.Hypervisor that decodes the hypercall argument structs exactly as the real
// platform passes them, so the portable packages (evtchn, gnttab, xenstore, xenbus, netfront)
// run unchanged against it in plain `go test -race`.
//
// It is a peer of the real platform (package hypercall and the board), not a user of what runs
// on it: it is built from the portable packages and takes every ABI number from them and from
// package xen, never from hypercall or a driver (docs/architecture.md; internal/layers checks).
//
// What is modelled, and after which part of Xen:
//
//   - Guest memory: each Domain owns an arena of page-aligned pages; a frame number is the page's
//     index in the arena. Domain.Memory hands out zeroed pages from a free list (xen.Memory).
//   - Event channels (common/event_channel.c, event_2l.c): ports per domain, alloc_unbound,
//     bind_interdomain, bind_virq, send, close, unmask and status; delivery sets the 2-level
//     pending bit, the selector bit and evtchn_upcall_pending in the receiving domain's
//     shared_info page, then raises the domain's upcall.
//   - Grant tables v1 (common/grant_table.c): GNTTABOP_query_size, GNTTABOP_copy, and
//     XENMEM_add_to_physmap with XENMAPSPACE_grant_table, after which the table's frame IS the
//     guest page at gpfn, so the guest's gnttab package and the simulated Xen share the entries
//     as on real hardware. Backends map grants with Domain.MapGrant, which sets GTF_reading and
//     GTF_writing in the shared entry with compare-and-swap while the mapping lives.
//   - shared_info (XENMAPSPACE_shared_info) and the HVM parameters a PVH guest reads at boot
//     (HVMOP_get_param: STORE_PFN, STORE_EVTCHN, CONSOLE_PFN, CONSOLE_EVTCHN).
//   - The domain builder's part of the toolstack: NewDomain reserves the console and XenStore
//     pages, seeds grant refs 0 and 1 for the backend domain, and allocates the two unbound
//     ports, as libxl/libxenguest do before a guest runs.
//   - xl save / xl restore: Xen.Restore makes a domain new with its RAM kept (no ports, an empty
//     grant table, a fresh shared_info, the builder's part done again), and Services.Resume
//     brings the guest's side back as board/xenpvh does.
//
// Anything else returns xen.ENOSYS.
//
// # Upcalls
//
// Each domain has one virtual CPU's interrupt line: when an event sets evtchn_upcall_pending
// 0->1, the simulated Xen puts a token in the domain's capacity-1 channel and a goroutine owned by
// the domain calls the function registered with Domain.SetUpcall (typically an
// evtchn.Dispatcher's Upcall). Raising is therefore asynchronous, like a real interrupt: the
// sender's EVTCHNOP_send never runs the receiver's handler on its own stack, so a sender holding
// its own locks can never deadlock with the receiver's handler, and there is no unbounded
// recursion when two domains ping-pong. Coalescing loses nothing, because the handler clears
// upcall_pending before scanning and any later event sets it (and raises) again.
// Xen.Close stops the upcall goroutines and waits for them.
//
// Concurrency: one mutex (Xen.mu) guards every port table, grant-table bookkeeping and domain
// list. Memory shared with guests is touched only with atomics where Xen uses locked
// operations (bitmaps, grant-entry flags), and with plain copies where the ring protocols order
// the accesses.
package sim
