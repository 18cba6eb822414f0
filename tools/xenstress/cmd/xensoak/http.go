// Downloads and uploads against examples/httpd, each checked by SHA-256.

package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/tamaxen/tamaxen/internal/pattern"
)

// httpWorkers holds what the download and upload loops share.
type httpWorkers struct {
	c      config
	r      *result
	client *http.Client
	want   map[int64][32]byte // SHA-256 of the pattern stream of each download size
}

func newHTTPWorkers(c config, r *result) *httpWorkers {
	h := &httpWorkers{
		c: c, r: r,
		// A fresh connection per transfer: every transfer also opens and closes a connection
		// in the guest, and no request meets an idle connection the server is closing.
		client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		want:   map[int64][32]byte{},
	}
	for _, n := range c.dlSizes {
		s := sha256.New()
		_, _ = io.Copy(s, pattern.NewReader(n))
		h.want[n] = [32]byte(s.Sum(nil))
	}
	return h
}

// downloadLoop fetches the download sizes in turn until ctx ends.
func (h *httpWorkers) downloadLoop(ctx context.Context, worker int) {
	for i := worker; ctx.Err() == nil; i++ {
		n := h.c.dlSizes[i%len(h.c.dlSizes)]
		got, err := h.download(ctx, n)
		if ctx.Err() != nil {
			return // cut short by the end of the soak, not by the guest
		}
		h.r.add(&h.r.download, fmt.Sprintf("download %d of %d B", i, n), got, err, errors.Is(err, errCorrupt))
		if err != nil {
			pause(ctx, time.Second) // no tight loop against a guest that is away
		}
	}
}

var errCorrupt = errors.New("corrupt")

// download fetches n bytes and compares length and SHA-256 with the pattern stream.
func (h *httpWorkers) download(ctx context.Context, n int64) (int64, error) {
	tctx, cancel := context.WithTimeout(ctx, h.c.xferTimout)
	defer cancel()
	req, err := http.NewRequestWithContext(tctx, http.MethodGet, fmt.Sprintf("%s/download?bytes=%d", h.c.httpBase, n), nil)
	if err != nil {
		return 0, err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("status %s", resp.Status)
	}
	s := sha256.New()
	got, err := io.Copy(s, resp.Body)
	if err != nil {
		return got, fmt.Errorf("after %d of %d bytes: %w", got, n, err)
	}
	if got != n {
		return got, fmt.Errorf("%w: %d bytes, want %d", errCorrupt, got, n)
	}
	if sum := [32]byte(s.Sum(nil)); sum != h.want[n] {
		return got, fmt.Errorf("%w: SHA-256 %x, want %x", errCorrupt, sum, h.want[n])
	}
	return got, nil
}

// uploadLoop posts the upload sizes in turn, each a different random body, until ctx ends.
func (h *httpWorkers) uploadLoop(ctx context.Context, worker int) {
	for i := worker; ctx.Err() == nil; i++ {
		n := h.c.ulSizes[i%len(h.c.ulSizes)]
		err := h.upload(ctx, n, uint64(worker)<<32|uint64(i))
		if ctx.Err() != nil {
			return
		}
		h.r.add(&h.r.upload, fmt.Sprintf("upload %d of %d B", i, n), n, err, errors.Is(err, errCorrupt))
		if err != nil {
			pause(ctx, time.Second)
		}
	}
}

// upload posts n random bytes and compares the guest's "LEN SHA256" answer with what was sent.
func (h *httpWorkers) upload(ctx context.Context, n int64, seed uint64) error {
	tctx, cancel := context.WithTimeout(ctx, h.c.xferTimout)
	defer cancel()
	s := sha256.New()
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	body := io.TeeReader(io.LimitReader(rand.NewChaCha8(key), n), s)
	req, err := http.NewRequestWithContext(tctx, http.MethodPost, h.c.httpBase+"/upload", body)
	if err != nil {
		return err
	}
	req.ContentLength = n
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 256))
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s: %q", resp.Status, answer)
	}
	want := fmt.Sprintf("%d %x", n, s.Sum(nil))
	if got := strings.TrimSpace(string(answer)); got != want {
		return fmt.Errorf("%w: guest answered %q, want %q", errCorrupt, got, want)
	}
	return nil
}

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
