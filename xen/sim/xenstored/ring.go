// Domains' connections: the xenstore_domain_interface page and its event channel.

package xenstored

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/tamaxen/tamaxen/internal/xsdaemon"
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/evtchn"
	"github.com/tamaxen/tamaxen/xen/gnttab"
	"github.com/tamaxen/tamaxen/xen/sim"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// ringConn is a domain's connection: its interface page mapped through the reserved grant,
// the daemon's end of its store event channel, and the ring over them.
type ringConn struct {
	dom     xen.DomID
	mapping *sim.Mapping
	ch      *evtchn.Channel
	ring    *xsdaemon.Ring

	cancel context.CancelFunc
	done   sync.WaitGroup
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
	rc := &ringConn{dom: d.ID(), mapping: m, ch: ch, ring: xsdaemon.NewRing(m.Data, ch)}
	s.mu.Lock()
	if s.closed || s.rings[d.ID()] != nil {
		s.mu.Unlock()
		_ = ch.Close()
		m.Unmap()
		return fmt.Errorf("xenstored: introduce dom%d: %w", d.ID(), xen.EEXIST)
	}
	s.rings[d.ID()] = rc
	s.fireLocked([]change{{path: "@introduceDomain"}})
	s.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	rc.cancel = cancel
	rc.done.Add(2)
	go func() {
		defer rc.done.Done()
		rc.ring.Run(ctx)
	}()
	c := s.newConn(d.ID())
	go func() {
		defer rc.done.Done()
		s.serve(c, rc.ring)
	}()
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

func (rc *ringConn) stop() {
	rc.cancel()
	rc.done.Wait()
	_ = rc.ch.Close()
	rc.mapping.Unmap()
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
