//go:build integration

package chaos

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// localRead is a read served from one node's applied state
// (?consistency=local). It promises less than a linearizable read, so it
// stays out of porcupine's history and gets the checks CheckLocal makes.
type localRead struct {
	Node    string
	Account string
	Balance uint64
	Call    time.Duration
	Return  time.Duration
}

// LocalRead records a local read of account's balance at node.
func (h *History) LocalRead(node, account string, balance uint64, call, ret time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.locals = append(h.locals, localRead{Node: node, Account: account, Balance: balance, Call: call, Return: ret})
}

// LocalReads counts the local reads recorded.
func (h *History) LocalReads() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.locals)
}

// accountState is an account's balance after the block at height, and the
// latest call time of the transfers that made it.
type accountState struct {
	height  uint64
	balance uint64
	latest  time.Duration
}

// CheckLocal checks the local reads against what a local read promises: the
// node answers from a state it applied, whole blocks of the one chain, so
//   - the balance is the account's balance after some block of the final
//     chain (never a state no node held, nor a transfer counted twice);
//   - that state holds no transfer sent after the read returned (a node is
//     never ahead of what was written);
//   - at one node, a read that starts after another returned never shows
//     an older state (a node's applied state only grows, restarts included:
//     it is on disk).
//
// It may be stale: older than writes acknowledged before it, which is what
// a local read gives up. applied maps the amount of every transfer into a
// target account in the chain to its height; call Resolve first, so the
// history holds every transfer the chain does. It returns what it found
// wrong, at most limit items.
func (h *History) CheckLocal(applied map[uint64]uint64, limit int) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	type sent struct {
		account string
		call    time.Duration
	}
	byAmount := map[uint64]sent{}
	for _, op := range h.ops {
		if in := op.Input.(input); in.Kind == opTransfer {
			byAmount[in.Amount] = sent{in.Account, time.Duration(op.Call)}
		}
	}
	type credit struct {
		height, amount uint64
		call           time.Duration
	}
	credits := map[string][]credit{}
	for amount, height := range applied {
		if s, ok := byAmount[amount]; ok {
			credits[s.account] = append(credits[s.account], credit{height, amount, s.call})
		}
	}
	states := map[string][]accountState{} // by balance, which grows with height
	for account, cs := range credits {
		sort.Slice(cs, func(i, j int) bool { return cs[i].height < cs[j].height })
		st := []accountState{{}}
		for _, c := range cs {
			last := st[len(st)-1]
			next := accountState{height: c.height, balance: last.balance + c.amount, latest: max(last.latest, c.call)}
			if last.height == c.height && len(st) > 1 {
				st[len(st)-1] = next // one block: applied whole
			} else {
				st = append(st, next)
			}
		}
		states[account] = st
	}

	var bad []string
	add := func(format string, args ...any) {
		if len(bad) < limit {
			bad = append(bad, fmt.Sprintf(format, args...))
		}
	}
	for _, r := range h.locals {
		st := states[r.Account]
		if st == nil {
			st = []accountState{{}}
		}
		i, found := slices.BinarySearchFunc(st, r.Balance, func(s accountState, b uint64) int {
			switch {
			case s.balance < b:
				return -1
			case s.balance > b:
				return 1
			}
			return 0
		})
		switch {
		case !found:
			add("%s read %s = %d at %v: the account never held that balance after a block", r.Node, r.Account, r.Balance, r.Call)
		case st[i].latest > r.Return:
			add("%s read %s = %d (its state after block %d) at %v-%v: that block holds a transfer sent at %v, after the read returned",
				r.Node, r.Account, r.Balance, st[i].height, r.Call, r.Return, st[i].latest)
		}
	}
	byNode := map[[2]string][]localRead{}
	for _, r := range h.locals {
		k := [2]string{r.Node, r.Account}
		byNode[k] = append(byNode[k], r)
	}
	for _, rs := range byNode {
		sort.Slice(rs, func(i, j int) bool { return rs[i].Call < rs[j].Call })
		for j, later := range rs {
			for _, earlier := range rs[:j] {
				if earlier.Return < later.Call && later.Balance < earlier.Balance {
					add("%s went back: read %s = %d at %v-%v, then %d at %v-%v", later.Node, later.Account,
						earlier.Balance, earlier.Call, earlier.Return, later.Balance, later.Call, later.Return)
				}
			}
		}
	}
	return bad
}
