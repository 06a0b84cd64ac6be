package netproxy

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// echoServer answers every line with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { _ = c.Close() }() // the echo is over; the client sees the close as EOF
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err = bufio.NewReader(c).ReadString('\n')
	return err
}

func TestProxyForwardsCutsAndHeals(t *testing.T) {
	p, err := New(echoServer(t))
	require.NoError(t, err)
	t.Cleanup(p.Close)
	require.NoError(t, roundTrip(p.Addr()))

	// An open connection is dropped by Cut.
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer func() { _ = c.Close() }()
	_, err = c.Write([]byte("x\n"))
	require.NoError(t, err)
	buf := make([]byte, 2)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	p.Cut()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(buf)
	require.ErrorIs(t, err, io.EOF, "a cut drops open connections")

	require.Error(t, roundTrip(p.Addr()), "a cut proxy refuses new connections")
	p.Heal()
	require.NoError(t, roundTrip(p.Addr()))

	// A new target takes new connections; a dead one closes them.
	p.SetTarget("127.0.0.1:1")
	require.Error(t, roundTrip(p.Addr()))
	p.SetTarget(echoServer(t))
	require.NoError(t, roundTrip(p.Addr()))
}
