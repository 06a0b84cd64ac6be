//go:build integration

package chaos

import (
	"fmt"
	"strings"

	"github.com/chainotel/chainotel/internal/netproxy"
)

// Mesh is the peer network between nodes: one proxy per ordered pair (from,
// to), listening for from and forwarding to to's port. Node from's --peers
// lists its proxies, so every byte between two nodes crosses one.
type Mesh struct {
	ids     []string
	proxies map[[2]string]*netproxy.Proxy
}

// NewMesh makes the proxies; addrs maps each node id to its host:port.
func NewMesh(ids []string, addrs map[string]string) (*Mesh, error) {
	m := &Mesh{ids: ids, proxies: make(map[[2]string]*netproxy.Proxy)}
	for _, from := range ids {
		for _, to := range ids {
			if from == to {
				continue
			}
			p, err := netproxy.New(addrs[to])
			if err != nil {
				m.Close()
				return nil, fmt.Errorf("mesh %s->%s: %w", from, to, err)
			}
			m.proxies[[2]string{from, to}] = p
		}
	}
	return m, nil
}

// PeersFlag is the --peers value for node id: its proxies to every other node.
func (m *Mesh) PeersFlag(id string) string {
	var addrs []string
	for _, to := range m.ids {
		if to != id {
			addrs = append(addrs, m.proxies[[2]string{id, to}].Addr())
		}
	}
	return "--peers=" + strings.Join(addrs, ",")
}

// Isolate cuts every link to and from node id.
func (m *Mesh) Isolate(id string) {
	for k, p := range m.proxies {
		if k[0] == id || k[1] == id {
			p.Cut()
		}
	}
}

// HealAll lets every link through again.
func (m *Mesh) HealAll() {
	for _, p := range m.proxies {
		p.Heal()
	}
}

// Close closes every proxy.
func (m *Mesh) Close() {
	for _, p := range m.proxies {
		p.Close()
	}
}
