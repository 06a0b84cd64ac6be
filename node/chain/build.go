package chain

import (
	"errors"
	"time"
)

// Rejected is a transaction the proposer left out of a block, and why.
type Rejected struct {
	Tx  Tx
	Err error
}

// BuildBlock makes the block that follows parent (whose hash is parentHash)
// from txs, in order, running them against state: a transaction that fails
// its state transition or gas check is left out and returned as rejected, so
// the block only holds transactions that every node will apply.
func BuildBlock(params *Params, state StateReader, parent Header, parentHash Hash, txs []Tx, proposer string, now time.Time) (*Block, []Rejected, error) {
	b, _, rejected, err := BuildBlockChanges(params, state, parent, parentHash, txs, proposer, now)
	return b, rejected, err
}

// BuildBlockChanges is BuildBlock that also returns the accounts the block
// changes, so a proposer can build the next block on top of it before it
// is applied.
func BuildBlockChanges(params *Params, state StateReader, parent Header, parentHash Hash, txs []Tx, proposer string, now time.Time) (*Block, map[string]Account, []Rejected, error) {
	ex := NewExecutor(params, state)
	kept := make([]Tx, 0, len(txs))
	var rejected []Rejected
	for i := range txs {
		if _, err := ex.Apply(&txs[i]); err != nil {
			if IsTxError(err) {
				rejected = append(rejected, Rejected{Tx: txs[i], Err: err})
				continue
			}
			return nil, nil, nil, err // the state could not be read
		}
		kept = append(kept, txs[i])
	}
	b := &Block{
		Header: Header{
			ChainID:   parent.ChainID,
			Height:    parent.Height + 1,
			Parent:    parentHash,
			Time:      now.UnixNano(),
			TxRoot:    TxRoot(kept),
			StateRoot: StateRoot(parent.StateRoot, ex.Changes()),
			Proposer:  proposer,
			TxCount:   uint32(len(kept)),
		},
		Txs: kept,
	}
	return b, ex.Changes(), rejected, nil
}

// IsTxError reports whether err is the fault of a transaction (and not, say,
// of the storage it was checked against).
func IsTxError(err error) bool {
	var fe *FieldError
	return errors.As(err, &fe)
}

// Overlay reads accounts from layers of changes (the newest last) over a base
// state: the state as it will be once blocks not yet applied are.
type Overlay struct {
	Base   StateReader
	Layers []map[string]Account
}

// Account implements StateReader.
func (o Overlay) Account(addr string) (Account, error) {
	for i := len(o.Layers) - 1; i >= 0; i-- {
		if a, ok := o.Layers[i][addr]; ok {
			return a, nil
		}
	}
	return o.Base.Account(addr)
}
