// The receiving and sending end that listens: one transfer per connection, bounded.

package bulk

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"time"
)

// Defaults of a Server's bounds.
const (
	DefaultMaxBytes      = 16 << 30
	DefaultMaxConns      = 8
	DefaultBufSize       = 128 << 10
	DefaultTimeout       = 10 * time.Minute
	DefaultHeaderTimeout = 10 * time.Second
)

// Server answers bulk requests on a listener. The zero value uses the defaults above.
type Server struct {
	// MaxBytes bounds one request's Bytes.
	MaxBytes uint64
	// MaxConns bounds the transfers served at once; a connection beyond it is closed at once.
	// Each transfer under way holds one buffer of BufSize bytes, allocated once and reused.
	MaxConns int
	// BufSize is the size of each read and write.
	BufSize int
	// Timeout bounds a whole transfer, HeaderTimeout the wait for its request.
	Timeout, HeaderTimeout time.Duration
	// Logf, when set, is told about each transfer that failed.
	Logf func(format string, args ...any)

	bufs chan []byte // free buffers; its capacity is MaxConns
	send []byte      // what gets send, shared by every connection (never written after init)
}

func (s *Server) init() {
	if s.MaxBytes == 0 {
		s.MaxBytes = DefaultMaxBytes
	}
	if s.MaxConns <= 0 {
		s.MaxConns = DefaultMaxConns
	}
	if s.BufSize <= 0 {
		s.BufSize = DefaultBufSize
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	if s.HeaderTimeout <= 0 {
		s.HeaderTimeout = DefaultHeaderTimeout
	}
	s.bufs = make(chan []byte, s.MaxConns)
	for range s.MaxConns {
		s.bufs <- nil // allocated on first use
	}
	s.send = make([]byte, s.BufSize)
	for i := range s.send {
		s.send[i] = byte(i * 7)
	}
}

// Serve accepts connections on l until it fails, serving each in its own goroutine. It
// returns the listener's error.
func (s *Server) Serve(l net.Listener) error {
	s.init()
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		var buf []byte
		select {
		case buf = <-s.bufs:
		default:
			s.logf("bulk: %v: over %d transfers at once, closed", c.RemoteAddr(), s.MaxConns)
			_ = c.Close()
			continue
		}
		if buf == nil {
			buf = make([]byte, s.BufSize)
		}
		go func() {
			defer func() { s.bufs <- buf }()
			if err := s.serve(c, buf); err != nil {
				s.logf("bulk: %v: %v", c.RemoteAddr(), err)
			}
		}()
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

// serve runs one transfer on c and closes it.
func (s *Server) serve(c net.Conn, buf []byte) error {
	defer c.Close()
	start := time.Now()
	if err := c.SetDeadline(start.Add(s.HeaderTimeout)); err != nil {
		return err
	}
	hdr := buf[:RequestSize]
	if _, err := io.ReadFull(c, hdr); err != nil {
		return err
	}
	r, err := ParseRequest(hdr, s.MaxBytes)
	if err != nil {
		return err
	}
	if err := c.SetDeadline(start.Add(s.Timeout)); err != nil {
		return err
	}
	switch r.Op {
	case Get:
		_, err = sendN(c, s.send, r.Bytes)
		return err
	case Put:
		n, err := recvN(c, buf, r.Bytes)
		if err != nil {
			return err
		}
		binary.BigEndian.PutUint64(buf[:8], n)
		_, err = c.Write(buf[:8])
		return err
	}
	return ErrBadRequest
}

// sendN writes n bytes to w from buf, again and again.
func sendN(w io.Writer, buf []byte, n uint64) (uint64, error) {
	var done uint64
	for done < n {
		b := buf
		if rest := n - done; rest < uint64(len(b)) {
			b = b[:rest]
		}
		k, err := w.Write(b)
		done += uint64(k)
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// recvN reads exactly n bytes from r into buf, again and again, and discards them.
func recvN(r io.Reader, buf []byte, n uint64) (uint64, error) {
	var done uint64
	for done < n {
		b := buf
		if rest := n - done; rest < uint64(len(b)) {
			b = b[:rest]
		}
		k, err := r.Read(b)
		done += uint64(k)
		if err != nil && done < n {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return done, err
		}
	}
	return done, nil
}
