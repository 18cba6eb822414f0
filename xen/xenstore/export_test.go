package xenstore

import "time"

// ShortBackoff makes conflicting transactions retry after microseconds instead of
// milliseconds, so tests that exhaust the retries run fast; the returned func restores it.
func ShortBackoff() (restore func()) {
	old := backoffUnit
	backoffUnit = time.Microsecond
	return func() { backoffUnit = old }
}
