// Fault injection and request counters, for tests of what a client does when xenstored says no.

package xenstored

import "github.com/tamaxen/tamaxen/xen/xenstore"

// fault is an error string injected with Store.Fail, sent to the client as it is.
type fault string

func (f fault) Error() string { return string(f) }

// Fail makes every request naming the node at path (absolute) answer with the error string
// name ("EACCES", or anything else, which the client then has to make sense of); an empty name
// removes the fault. Transaction and watch requests are not affected.
func (s *Store) Fail(path, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == "" {
		delete(s.faults, path)
	} else {
		s.faults[path] = name
	}
}

// FailCommits makes the next n transaction commits fail with EAGAIN, as on a conflict, whatever
// the transactions touched.
func (s *Store) FailCommits(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failCommits = n
}

// Count returns how many requests of type t the daemon has handled, answered or refused.
func (s *Store) Count(t xenstore.MsgType) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[t]
}
