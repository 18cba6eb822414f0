// Wire layouts of grant_table.h (v1 entries). The memory.h call that maps grant frames is in
// package xen, which the simulated Xen and the hypercall package share.

package gnttab

// Commands of HYPERVISOR_grant_table_op used or referred to by this package.
const (
	GNTTABOP_map_grant_ref   = 0
	GNTTABOP_unmap_grant_ref = 1
	GNTTABOP_setup_table     = 2
	GNTTABOP_query_size      = 6
	GNTTABOP_set_version     = 8
	GNTTABOP_get_version     = 10
)

// Reserved grant references: the toolstack fills 0 (console) and 1 (XenStore) before boot, and
// refs below GNTTAB_NR_RESERVED_ENTRIES are never handed out.
const (
	GNTTAB_NR_RESERVED_ENTRIES = 8
	GNTTAB_RESERVED_CONSOLE    = 0
	GNTTAB_RESERVED_XENSTORE   = 1
)

// Flags of a v1 grant entry (grant_entry_v1.flags).
const (
	GTF_invalid       = 0
	GTF_permit_access = 1 << 0
	GTF_type_mask     = 3 << 0
	GTF_readonly      = 1 << 2 // the grantee may only map read-only
	GTF_reading       = 1 << 3 // set by Xen while the grantee has it mapped
	GTF_writing       = 1 << 4 // set by Xen while the grantee has it mapped writable
)

// struct grant_entry_v1 { uint16_t flags; domid_t domid; uint32_t frame; }
const (
	SizeofGrantEntryV1        = 8
	OffsetofGrantEntryV1Flags = 0
	OffsetofGrantEntryV1Domid = 2
	OffsetofGrantEntryV1Frame = 4

	// EntriesPerFrame is the number of v1 entries in one grant-table frame.
	EntriesPerFrame = 4096 / SizeofGrantEntryV1
)

// struct gnttab_query_size { domid_t dom; uint32_t nr_frames, max_nr_frames /* OUT */;
// int16_t status /* OUT */; }
const (
	SizeofGnttabQuerySize              = 16
	OffsetofGnttabQuerySizeDom         = 0
	OffsetofGnttabQuerySizeNrFrames    = 4
	OffsetofGnttabQuerySizeMaxNrFrames = 8
	OffsetofGnttabQuerySizeStatus      = 12
)
