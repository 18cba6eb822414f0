// The client: one transfer over K connections, timed until the far side has every byte.

package bulk

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxStreams bounds a client's parallel connections.
const MaxStreams = 64

// Dialer opens one connection to the server.
type Dialer func(ctx context.Context) (net.Conn, error)

// StreamResult is one connection's share of a transfer.
type StreamResult struct {
	Bytes   uint64
	Elapsed time.Duration
}

// Result is a transfer over one or more connections.
type Result struct {
	Op      Op
	Bytes   uint64
	Elapsed time.Duration // from the first dial to the last stream's end
	Streams []StreamResult
}

// MiBps is bytes per second in MiB.
func MiBps(bytes uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(bytes) / d.Seconds() / (1 << 20)
}

// String is the result as one line of key=value fields, for scripts:
//
//	bulk op=get streams=4 bytes=N seconds=S mibs=M stream_mibs=a,b,c,d stream_seconds=...
func (r Result) String() string {
	var sm, ss []string
	for _, s := range r.Streams {
		sm = append(sm, strconv.FormatFloat(MiBps(s.Bytes, s.Elapsed), 'f', 2, 64))
		ss = append(ss, strconv.FormatFloat(s.Elapsed.Seconds(), 'f', 3, 64))
	}
	return fmt.Sprintf("bulk op=%s streams=%d bytes=%d seconds=%.3f mibs=%.2f stream_mibs=%s stream_seconds=%s",
		r.Op, len(r.Streams), r.Bytes, r.Elapsed.Seconds(), MiBps(r.Bytes, r.Elapsed),
		strings.Join(sm, ","), strings.Join(ss, ","))
}

// Run transfers bytes in direction op over streams connections made by dial, each carrying
// an equal share (the last one the remainder). bufSize is each read's and write's size.
func Run(ctx context.Context, dial Dialer, op Op, bytes uint64, streams, bufSize int) (Result, error) {
	if op != Get && op != Put {
		return Result{}, fmt.Errorf("bulk: unknown op %v", op)
	}
	if streams < 1 || streams > MaxStreams {
		return Result{}, fmt.Errorf("bulk: %d streams, want 1 to %d", streams, MaxStreams)
	}
	if bufSize <= 0 {
		bufSize = DefaultBufSize
	}
	res := Result{Op: op, Bytes: bytes, Streams: make([]StreamResult, streams)}
	errs := make([]error, streams)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	share := bytes / uint64(streams)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range streams {
		n := share
		if i == streams-1 {
			n = bytes - share*uint64(streams-1)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			took, err := stream(ctx, dial, op, n, make([]byte, bufSize), start)
			res.Streams[i] = StreamResult{Bytes: n, Elapsed: took}
			if err != nil {
				errs[i] = fmt.Errorf("stream %d: %w", i, err)
				cancel() // the others would only measure a broken run
			}
		}()
	}
	wg.Wait()
	for _, s := range res.Streams {
		res.Elapsed = max(res.Elapsed, s.Elapsed)
	}
	for _, err := range errs {
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// stream runs one connection's transfer of n bytes and returns the time from start to the
// moment the far side had them all: the last byte read (get), the server's count (put).
func stream(ctx context.Context, dial Dialer, op Op, n uint64, buf []byte, start time.Time) (time.Duration, error) {
	c, err := dial(ctx)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	// A cancelled run ends the transfers under way.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if d, ok := ctx.Deadline(); ok {
		if err := c.SetDeadline(d); err != nil {
			return 0, err
		}
	}
	var req [RequestSize]byte
	Request{Op: op, Bytes: n}.Marshal(req[:])
	if _, err := c.Write(req[:]); err != nil {
		return 0, err
	}
	switch op {
	case Get:
		if _, err := recvN(c, buf, n); err != nil {
			return 0, err
		}
		took := time.Since(start)
		// Nothing more: the server closes after n bytes.
		if k, err := c.Read(buf[:1]); k != 0 || err != io.EOF {
			return 0, fmt.Errorf("after %d bytes: %d more, %v", n, k, err)
		}
		return took, nil
	default:
		for i := range buf {
			buf[i] = byte(i * 7)
		}
		if _, err := sendN(c, buf, n); err != nil {
			return 0, err
		}
		var ans [8]byte
		if _, err := io.ReadFull(c, ans[:]); err != nil {
			return 0, fmt.Errorf("answer: %w", err)
		}
		took := time.Since(start)
		if got := binary.BigEndian.Uint64(ans[:]); got != n {
			return 0, fmt.Errorf("server received %d bytes, sent %d", got, n)
		}
		return took, nil
	}
}
