package clustertest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// link is a loopback TCP proxy from one node to a peer. Cutting it closes
// the connections through it and refuses new ones until it is healed, which
// is what a network partition looks like to the nodes; the TLS inside passes
// through untouched, so the nodes need no test hooks.
type link struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newLink(t *testing.T, target string) *link {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	l := &link{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	l.wg.Add(1)
	go l.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		l.sever()
		l.wg.Wait()
	})
	return l
}

func (l *link) addr() string { return l.ln.Addr().String() }

func (l *link) serve() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		if l.cut {
			l.mu.Unlock()
			_ = c.Close()
			continue
		}
		up, err := net.Dial("tcp", l.target)
		if err != nil {
			l.mu.Unlock()
			_ = c.Close()
			continue
		}
		l.conns[c], l.conns[up] = struct{}{}, struct{}{}
		l.wg.Add(2)
		l.mu.Unlock()
		go l.pipe(c, up)
		go l.pipe(up, c)
	}
}

func (l *link) pipe(dst, src net.Conn) {
	defer l.wg.Done()
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
	l.mu.Lock()
	delete(l.conns, dst)
	delete(l.conns, src)
	l.mu.Unlock()
}

// setCut cuts (true) or heals (false) the link.
func (l *link) setCut(cut bool) {
	l.mu.Lock()
	l.cut = cut
	l.mu.Unlock()
	if cut {
		l.sever()
	}
}

func (l *link) sever() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		_ = c.Close()
	}
}
