package chain

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"os"
	"slices"
	"time"
)

// DevChainID is the chain id `blockchain init` writes.
const DevChainID = "chainotel-dev"

// Duration is a time.Duration written as "10ms" in JSON.
type Duration struct{ time.Duration }

// MarshalText writes the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses what time.ParseDuration accepts.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// Params are the consensus parameters every node must agree on.
type Params struct {
	BlockMaxTxs   int      `json:"block_max_txs"`   // the leader cuts a block at this many txs
	BlockMaxBytes int      `json:"block_max_bytes"` // or at this many encoded bytes
	BlockInterval Duration `json:"block_interval"`  // or when the oldest pending tx waited this long
	GasPerTx      uint64   `json:"gas_per_tx"`      // gas one transaction uses
	MinGasPrice   uint64   `json:"min_gas_price"`   // fee must be at least gas_per_tx * min_gas_price
	// RequireSignatures refuses unsigned transactions. The dev genesis leaves
	// it off so the quick-start curl works.
	RequireSignatures bool `json:"require_signatures"`
}

// MinFee is the fee that covers one transaction's gas.
func (p *Params) MinFee() (uint64, bool) {
	hi, lo := bits.Mul64(p.GasPerTx, p.MinGasPrice)
	return lo, hi == 0
}

// CheckGas is the validate.gas_usage stage: the fee covers the gas.
func (p *Params) CheckGas(tx *Tx) error {
	minFee, ok := p.MinFee()
	if !ok || tx.Fee < minFee {
		return fieldErr(ErrFeeTooLow, "fee", "got %d, the %d gas a transaction uses costs %d at %d per gas",
			tx.Fee, p.GasPerTx, minFee, p.MinGasPrice)
	}
	return nil
}

// GenesisAccount is an account funded at genesis.
type GenesisAccount struct {
	Address string `json:"address"`
	Balance uint64 `json:"balance"`
}

// Genesis defines a chain: its id, its validators (the raft members, by node
// id), its parameters and its initial accounts. Nodes whose genesis hashes
// differ refuse each other.
type Genesis struct {
	ChainID     string           `json:"chain_id"`
	GenesisTime time.Time        `json:"genesis_time"`
	Validators  []string         `json:"validators"`
	Consensus   Params           `json:"consensus"`
	Accounts    []GenesisAccount `json:"accounts"`
	// PoW are the proof-of-work rules that --consensus=pow needs; raft
	// ignores them. `blockchain init` writes them, so one genesis serves
	// both engines (a data folder holds the chain of one: store.ClaimEngine).
	PoW *PoWParams `json:"pow,omitempty"`
}

// devAccounts are the funded accounts of the dev genesis; 0xabc is the one the
// README's curl spends from.
var devAccounts = []string{"0xabc", "0xdef", "0xa11ce", "0xb0b"}

// DevBalance is the balance of each dev account (0xabc, 0xdef, 0xa11ce, 0xb0b).
const DevBalance uint64 = 1_000_000_000_000_000_000

// DefaultParams are the dev chain's consensus parameters.
func DefaultParams() Params {
	return Params{
		BlockMaxTxs:   4096,
		BlockMaxBytes: 2 << 20,
		BlockInterval: Duration{time.Millisecond},
		GasPerTx:      21000,
		MinGasPrice:   0,
	}
}

// DevGenesis is a raft-only dev genesis for the given validators (no pow
// section); `blockchain init` writes DevGenesisBoth.
func DevGenesis(validators []string, now time.Time) *Genesis {
	g := &Genesis{
		ChainID:     DevChainID,
		GenesisTime: now.UTC().Truncate(time.Second),
		Validators:  slices.Clone(validators),
		Consensus:   DefaultParams(),
	}
	for _, a := range devAccounts {
		g.Accounts = append(g.Accounts, GenesisAccount{Address: a, Balance: DevBalance})
	}
	return g
}

// DevGenesisBoth is the genesis `blockchain init` writes: DevGenesis with
// the DevPoWParams, which both engines accept, so --consensus alone picks
// the engine (the raft validators are the members under raft and the nodes
// that may run under pow).
func DevGenesisBoth(validators []string, now time.Time) *Genesis {
	g := DevGenesis(validators, now)
	p := DevPoWParams()
	g.PoW = &p
	return g
}

// Validate says what is wrong with g, naming the field.
func (g *Genesis) Validate() error {
	switch {
	case g.ChainID == "":
		return fmt.Errorf("%w: chain_id is empty", ErrBadGenesis)
	case len(g.Validators) == 0:
		return fmt.Errorf("%w: validators is empty", ErrBadGenesis)
	case g.Consensus.BlockMaxTxs <= 0:
		return fmt.Errorf("%w: consensus.block_max_txs must be > 0, got %d", ErrBadGenesis, g.Consensus.BlockMaxTxs)
	case g.Consensus.BlockMaxBytes <= 1024:
		return fmt.Errorf("%w: consensus.block_max_bytes must be > 1024, got %d", ErrBadGenesis, g.Consensus.BlockMaxBytes)
	case g.Consensus.BlockInterval.Duration < 0:
		return fmt.Errorf("%w: consensus.block_interval must be >= 0, got %s", ErrBadGenesis, g.Consensus.BlockInterval)
	}
	if g.PoW != nil {
		if err := g.PoW.Validate(); err != nil {
			return err
		}
	}
	if _, ok := g.Consensus.MinFee(); !ok {
		return fmt.Errorf("%w: consensus.gas_per_tx * min_gas_price overflows", ErrBadGenesis)
	}
	seen := map[string]bool{}
	for i, v := range g.Validators {
		if v == "" || seen[v] {
			return fmt.Errorf("%w: validators[%d]: empty or repeated node id %q", ErrBadGenesis, i, v)
		}
		seen[v] = true
	}
	seen = map[string]bool{}
	for i, a := range g.Accounts {
		addr, err := NormalizeAddress(a.Address)
		if err != nil {
			return fmt.Errorf("%w: accounts[%d]: %v", ErrBadGenesis, i, err)
		}
		if addr != a.Address || seen[addr] {
			return fmt.Errorf("%w: accounts[%d]: address %q must be lowercase and unique", ErrBadGenesis, i, a.Address)
		}
		seen[addr] = true
	}
	return nil
}

// Hash identifies the chain: SHA-256 of the genesis's canonical JSON.
func (g *Genesis) Hash() Hash {
	b, _ := json.Marshal(g) // a struct of plain fields always marshals
	return sha256.Sum256(b)
}

// Alloc is the state the genesis creates.
func (g *Genesis) Alloc() map[string]Account {
	out := make(map[string]Account, len(g.Accounts))
	for _, a := range g.Accounts {
		out[a.Address] = Account{Balance: a.Balance}
	}
	return out
}

// Block is block 0. Its parent is the genesis hash, so every block hash
// commits to the genesis.
func (g *Genesis) Block() Block {
	return Block{Header: Header{
		ChainID:   g.ChainID,
		Height:    0,
		Parent:    g.Hash(),
		Time:      g.GenesisTime.UnixNano(),
		StateRoot: StateRoot(Hash{}, g.Alloc()),
	}}
}

// IsValidator reports whether nodeID is one of the chain's validators.
func (g *Genesis) IsValidator(nodeID string) bool { return slices.Contains(g.Validators, nodeID) }

// LoadGenesis reads and validates a genesis file. Unknown fields are errors,
// so a typo does not silently fall back to a default.
func LoadGenesis(path string) (*Genesis, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("genesis %s does not exist: run `make init` (or `blockchain init --data-dir data --nodes node0,node1,node2`)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read genesis: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var g Genesis
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadGenesis, path, err)
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &g, nil
}

// Write writes g as indented JSON to path.
func (g *Genesis) Write(path string) error {
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return fmt.Errorf("encode genesis: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write genesis: %w", err)
	}
	return nil
}
