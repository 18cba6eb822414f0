// The daemon's side of the xenstore_domain_interface page.

package xenstoretest

import (
	"context"
	"sync"

	"github.com/tamaxen/tamaxen/internal/xsdaemon"
	"github.com/tamaxen/tamaxen/xen"
)

// ServeRing serves the guest on an interface page and the daemon's end of its event channel,
// until stop is called. The page's indices are used as found, like a guest's.
func (s *Server) ServeRing(page []byte, ev xen.EventChannel) (stop func()) {
	r := xsdaemon.NewRing(page, ev)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		r.Run(ctx)
	}()
	go func() {
		defer wg.Done()
		_ = s.Serve(r)
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}
