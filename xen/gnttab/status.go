// GNTST_* status codes, returned inside the grant-table hypercall structs.

package gnttab

import "fmt"

// Status is the int16 status field of a grant-table hypercall struct. A hypercall can return 0
// and still have failed; the status must be checked too.
type Status int16

// Status values (enum grant_status).
const (
	GNTST_okay              Status = 0
	GNTST_general_error     Status = -1
	GNTST_bad_domain        Status = -2
	GNTST_bad_gntref        Status = -3
	GNTST_bad_handle        Status = -4
	GNTST_bad_virt_addr     Status = -5
	GNTST_bad_dev_addr      Status = -6
	GNTST_no_device_space   Status = -7
	GNTST_permission_denied Status = -8
	GNTST_bad_page          Status = -9
	GNTST_bad_copy_arg      Status = -10
	GNTST_address_too_big   Status = -11
	GNTST_eagain            Status = -12
	GNTST_no_space          Status = -13
)

var statusNames = [...]string{
	"okay", "general error", "bad domain", "bad grant ref", "bad handle", "bad virtual address",
	"bad device address", "no device space", "permission denied", "bad page", "bad copy argument",
	"address too big", "try again", "no space",
}

func (s Status) Error() string {
	if s <= 0 && int(-s) < len(statusNames) {
		return "gnttab: " + statusNames[-s]
	}
	return fmt.Sprintf("gnttab: status %d", int16(s))
}

// Temporary reports whether the same call may succeed later.
func (s Status) Temporary() bool { return s == GNTST_eagain }
