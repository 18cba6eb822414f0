// Domains' connections: the xenstore_domain_interface page and its event channel.

package xenstored

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/tamaxen/tamaxen/internal/xsdaemon"
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/gnttab"
	"github.com/tamaxen/tamaxen/xen/sim"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// ringConn is a domain's connection over its interface page: the daemon's half of the ring and
// the goroutines serving it.
type ringConn struct {
	cancel  context.CancelFunc
	done    sync.WaitGroup
	release func() // undoes what Introduce set up: the store port's binding, the page's mapping
}

// serveRing starts serving domain dom on page over ch.
func (s *Store) serveRing(dom xen.DomID, page []byte, ch xen.EventChannel) *ringConn {
	ring := xsdaemon.NewRing(page, ch)
	ctx, cancel := context.WithCancel(context.Background())
	rc := &ringConn{cancel: cancel}
	rc.done.Add(2)
	go func() {
		defer rc.done.Done()
		ring.Run(ctx)
	}()
	c := s.newConn(dom)
	go func() {
		defer rc.done.Done()
		s.serve(c, ring)
	}()
	return rc
}

func (rc *ringConn) stop() {
	rc.cancel()
	rc.done.Wait()
	if rc.release != nil {
		rc.release()
	}
}

// ServeRing serves domain dom on an interface page over ch, the daemon's end of the domain's
// store event channel, until stop is called: Introduce's transport, on a page and a channel the
// caller set up (a test's own page and a pair of fake channels). The page's indices are used as
// found, like a guest's.
func (s *Store) ServeRing(dom xen.DomID, page []byte, ch xen.EventChannel) (stop func()) {
	return s.serveRing(dom, page, ch).stop
}

// Introduce is XS_INTRODUCE as the toolstack issues it after building a domain: xenstored
// maps the store page through the reserved grant ref (GNTTAB_RESERVED_XENSTORE), binds to the
// domain's store port (HVM_PARAM_STORE_EVTCHN) and starts serving the domain. It fires
// @introduceDomain. MakeDomain must have created the domain's home.
func (s *Store) Introduce(d *sim.Domain) error {
	if s.dom0 == nil {
		return fmt.Errorf("xenstored: introduce dom%d: no dom0 services", d.ID())
	}
	port, ok := d.Param(xen.HVM_PARAM_STORE_EVTCHN)
	if !ok {
		return fmt.Errorf("xenstored: introduce dom%d: no store event channel", d.ID())
	}
	m, err := s.dom0.Domain.MapGrant(d.ID(), gnttab.GNTTAB_RESERVED_XENSTORE, true)
	if err != nil {
		return err
	}
	ch, err := s.dom0.Events.BindInterdomain(d.ID(), xen.Port(port))
	if err != nil {
		m.Unmap()
		return err
	}
	release := func() {
		_ = ch.Close()
		m.Unmap()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.rings[d.ID()] != nil {
		release()
		return fmt.Errorf("xenstored: introduce dom%d: %w", d.ID(), xen.EEXIST)
	}
	// The connection's goroutines wait for s.mu: nothing is served before the domain is in.
	rc := s.serveRing(d.ID(), m.Data, ch)
	rc.release = release
	s.rings[d.ID()] = rc
	s.fireLocked([]change{{path: "@introduceDomain"}})
	return nil
}

// Release is XS_RELEASE: stop serving the domain, drop its watches and transactions, unbind
// and unmap, and fire @releaseDomain.
func (s *Store) Release(dom xen.DomID) error {
	s.mu.Lock()
	rc := s.rings[dom]
	delete(s.rings, dom)
	s.mu.Unlock()
	if rc == nil {
		return xen.ENOENT
	}
	rc.stop()
	s.mu.Lock()
	s.fireLocked([]change{{path: "@releaseDomain"}})
	s.mu.Unlock()
	return nil
}

// Client connects an in-process client acting as domain dom (dom0 for the toolstack and the
// backends) over net.Pipe, the way dom0 processes reach xenstored through its socket.
func (s *Store) Client(dom xen.DomID) (*xenstore.Client, error) {
	cs, ss := net.Pipe()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, xen.ErrClosed
	}
	s.wg.Add(1)
	s.mu.Unlock()
	c := s.newConn(dom)
	go func() {
		defer s.wg.Done()
		s.serve(c, ss)
		_ = ss.Close()
	}()
	return xenstore.New(cs), nil
}

// Close releases every domain and waits for the in-process connections, which end when
// their clients are closed.
func (s *Store) Close() {
	s.mu.Lock()
	s.closed = true
	rings := s.rings
	s.rings = make(map[xen.DomID]*ringConn)
	s.mu.Unlock()
	for _, rc := range rings {
		rc.stop()
	}
	s.wg.Wait()
}
