package chain

import (
	"crypto/sha256"
	"encoding/binary"
	"maps"
	"math/bits"
	"slices"

	"github.com/chainotel/chainotel/semconv"
)

// Account is the state of one address.
type Account struct {
	Balance uint64 `json:"balance"`
	Nonce   uint64 `json:"nonce"` // the nonce its next transaction must carry
	Staked  uint64 `json:"staked"`
}

// StateReader reads committed account state. An unknown address reads as the
// zero Account. Implementations must be safe for use from one goroutine at a
// time; the Executor never calls it concurrently.
type StateReader interface {
	Account(addr string) (Account, error)
}

// Executor runs transactions against a base state, keeping what they change
// in memory: the leader uses it to check a block it is about to cut, every
// node to apply a committed one. Not safe for concurrent use.
type Executor struct {
	params *Params
	base   StateReader
	dirty  map[string]Account
}

// NewExecutor starts an execution on top of base under the chain's params.
func NewExecutor(params *Params, base StateReader) *Executor {
	return &Executor{params: params, base: base, dirty: make(map[string]Account)}
}

// Account is the state of addr as changed by the transactions run so far.
func (e *Executor) Account(addr string) (Account, error) {
	if a, ok := e.dirty[addr]; ok {
		return a, nil
	}
	return e.base.Account(addr)
}

// Apply runs tx: the state-transition checks (nonce, balance), the gas check,
// then its effect. It changes nothing when it fails. It returns the nonce the
// transaction took.
func (e *Executor) Apply(tx *Tx) (uint64, error) {
	from, err := e.Account(tx.From)
	if err != nil {
		return 0, err
	}
	if err := CheckTransition(tx, from); err != nil {
		return 0, err
	}
	if err := e.params.CheckGas(tx); err != nil {
		return 0, err
	}
	nonce := from.Nonce
	from.Nonce++
	switch tx.TypeOrDefault() {
	case semconv.TxTypeStake:
		from.Balance -= tx.Amount + tx.Fee // CheckTransition proved it fits
		if from.Staked, err = add(from.Staked, tx.Amount, "amount"); err != nil {
			return 0, err
		}
		e.dirty[tx.From] = from
	case semconv.TxTypeUnstake:
		from.Staked -= tx.Amount
		from.Balance = from.Balance - tx.Fee + tx.Amount // cannot overflow: it was staked out of a balance
		e.dirty[tx.From] = from
	default: // transfer, contract_call: move amount from sender to recipient
		from.Balance -= tx.Amount + tx.Fee
		e.dirty[tx.From] = from
		to, err := e.Account(tx.To)
		if err != nil {
			return 0, err
		}
		if to.Balance, err = add(to.Balance, tx.Amount, "to"); err != nil {
			delete(e.dirty, tx.From)
			return 0, err
		}
		e.dirty[tx.To] = to
	}
	return nonce, nil
}

// CheckTransition is the validate.state_transition stage: tx's nonce, when
// given, is the sender's next one, and the sender can pay for it.
func CheckTransition(tx *Tx, from Account) error {
	if tx.Nonce != nil && *tx.Nonce != from.Nonce {
		return fieldErr(ErrBadNonce, "nonce", "got %d, the next nonce of %s is %d", *tx.Nonce, tx.From, from.Nonce)
	}
	cost, carry := bits.Add64(tx.Amount, tx.Fee, 0)
	if carry != 0 {
		return fieldErr(ErrMalformed, "amount", "amount plus fee overflows")
	}
	if tx.TypeOrDefault() == semconv.TxTypeUnstake {
		if from.Staked < tx.Amount {
			return fieldErr(ErrInsufficientFunds, "amount", "%s has %d staked, cannot unstake %d", tx.From, from.Staked, tx.Amount)
		}
		cost = tx.Fee
	}
	if from.Balance < cost {
		return fieldErr(ErrInsufficientFunds, "amount", "%s holds %d, needs %d (amount plus fee)", tx.From, from.Balance, cost)
	}
	return nil
}

func add(a, b uint64, field string) (uint64, error) {
	sum, carry := bits.Add64(a, b, 0)
	if carry != 0 {
		return 0, fieldErr(ErrOverflow, field, "the balance would overflow")
	}
	return sum, nil
}

// Changes returns the accounts the executed transactions changed.
func (e *Executor) Changes() map[string]Account { return e.dirty }

// StateRoot commits to the state after a block: SHA-256 over the parent's
// state root and every changed account, in address order. It is a chained
// digest of state changes rather than a Merkle tree of all accounts: cheap to
// compute per block, and two nodes that applied the same blocks from the same
// genesis agree on it, which is what it is checked for.
func StateRoot(parent Hash, changes map[string]Account) Hash {
	h := sha256.New()
	h.Write(parent[:])
	var buf []byte
	for _, addr := range slices.Sorted(maps.Keys(changes)) {
		a := changes[addr]
		buf = appendString(buf[:0], addr)
		buf = binary.AppendUvarint(buf, a.Balance)
		buf = binary.AppendUvarint(buf, a.Nonce)
		buf = binary.AppendUvarint(buf, a.Staked)
		h.Write(buf)
	}
	var out Hash
	h.Sum(out[:0])
	return out
}
