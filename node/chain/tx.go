// Package chain holds what the blockchain is made of: transactions, blocks,
// the genesis, and the rules that say which of them are valid and what they do
// to account state. It does no I/O; the store and the consensus engine use it.
package chain

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/chainotel/chainotel/semconv"
)

// Hash is a SHA-256 digest: of a transaction, a block header, a state root.
type Hash [32]byte

// String is the hash as 0x-prefixed lowercase hex, the form the API uses.
func (h Hash) String() string { return "0x" + hex.EncodeToString(h[:]) }

// MarshalText encodes the hash as String does.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText accepts what ParseHash accepts.
func (h *Hash) UnmarshalText(b []byte) error {
	p, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = p
	return nil
}

// IsZero reports whether h is the zero hash.
func (h Hash) IsZero() bool { return h == Hash{} }

// ParseHash parses 64 hex digits, with or without a 0x prefix.
func ParseHash(s string) (Hash, error) {
	var h Hash
	raw := strings.TrimPrefix(strings.ToLower(s), "0x")
	if len(raw) != 2*len(h) {
		return h, fmt.Errorf("%w: hash %q: want 64 hex digits", ErrMalformed, s)
	}
	if _, err := hex.Decode(h[:], []byte(raw)); err != nil {
		return h, fmt.Errorf("%w: hash %q: %v", ErrMalformed, s, err)
	}
	return h, nil
}

// maxAddressDigits is how many hex digits an address may have (20 bytes).
const maxAddressDigits = 40

// NormalizeAddress checks that s is an address, "0x" followed by 1 to 40 hex
// digits, and returns it in lowercase so 0xABC and 0xabc are one account.
func NormalizeAddress(s string) (string, error) {
	rest, ok := strings.CutPrefix(strings.ToLower(s), "0x")
	if !ok {
		return "", fmt.Errorf("address %q must start with 0x", s)
	}
	if len(rest) == 0 || len(rest) > maxAddressDigits {
		return "", fmt.Errorf("address %q must have 1 to %d hex digits after 0x", s, maxAddressDigits)
	}
	for _, c := range rest {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", fmt.Errorf("address %q holds %q, which is not a hex digit", s, c)
		}
	}
	return "0x" + rest, nil
}

// AddressFromPubKey is the address an ed25519 key signs for: the first 20
// bytes of the SHA-256 of the key, as 40 hex digits.
func AddressFromPubKey(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "0x" + hex.EncodeToString(sum[:20])
}

// Tx is a transaction. Amount and Fee are in the chain's smallest unit.
//
// Nonce is optional: a transaction without one takes the sender's next nonce
// when it is applied, so posting the same body twice makes two transfers. Such
// a transaction gets a random ID from the node that received it, which keeps
// its hash unique; a transaction with a nonce is identified by its content.
type Tx struct {
	From      string  `json:"from"`
	To        string  `json:"to"`
	Amount    uint64  `json:"amount"`
	Type      string  `json:"type"`
	Nonce     *uint64 `json:"nonce,omitempty"`
	Fee       uint64  `json:"fee"`
	PubKey    string  `json:"pubkey,omitempty"`
	Signature string  `json:"signature,omitempty"`
	ID        string  `json:"id,omitempty"`

	// TraceParent is the W3C traceparent of the request that submitted the
	// transaction. It rides inside the block so the nodes applying it can
	// link their spans to that trace; it is not part of the hash.
	TraceParent string `json:"-"`
}

// TypeOrDefault is the transaction type, transfer when none was given.
func (tx *Tx) TypeOrDefault() string {
	if tx.Type == "" {
		return semconv.TxTypeTransfer
	}
	return tx.Type
}

// SigningBytes is what the sender signs: the chain id and every field that
// says what the transaction does, so a signature cannot be replayed on another
// chain or with another amount, recipient, nonce or fee.
func (tx *Tx) SigningBytes(chainID string) []byte {
	b := make([]byte, 0, 96)
	b = appendString(b, "chainotel/tx/v1")
	b = appendString(b, chainID)
	return tx.appendBody(b)
}

func (tx *Tx) appendBody(b []byte) []byte {
	b = appendString(b, tx.From)
	b = appendString(b, tx.To)
	b = binary.AppendUvarint(b, tx.Amount)
	b = appendString(b, tx.TypeOrDefault())
	if tx.Nonce != nil {
		b = append(b, 1)
		b = binary.AppendUvarint(b, *tx.Nonce)
	} else {
		b = append(b, 0)
	}
	return binary.AppendUvarint(b, tx.Fee)
}

// Hash is the transaction's identity: SHA-256 of its canonical encoding
// (without the trace context).
func (tx *Tx) Hash() Hash {
	return sha256.Sum256(tx.appendIdentity(make([]byte, 0, 128)))
}

func (tx *Tx) appendIdentity(b []byte) []byte {
	b = tx.appendBody(b)
	b = appendString(b, tx.PubKey)
	b = appendString(b, tx.Signature)
	return appendString(b, tx.ID)
}

// AppendBinary appends the transaction's storage encoding, its identity
// followed by the trace context.
func (tx *Tx) AppendBinary(b []byte) ([]byte, error) {
	b = tx.appendIdentity(b)
	return appendString(b, tx.TraceParent), nil
}

func (tx *Tx) decode(d *decoder) {
	tx.From = d.string()
	tx.To = d.string()
	tx.Amount = d.uvarint()
	tx.Type = d.string()
	if tx.Type == semconv.TxTypeTransfer {
		tx.Type = "" // the encoding always names the type; keep the struct canonical
	}
	switch flag := d.bytesN(1); {
	case len(flag) == 1 && flag[0] == 1:
		n := d.uvarint()
		tx.Nonce = &n
	case len(flag) == 1 && flag[0] != 0 && d.err == nil:
		// Only 0 and 1 are written; anything else is not this encoding.
		d.err = fmt.Errorf("%w: nonce flag %d, want 0 or 1", ErrCorrupt, flag[0])
	}
	tx.Fee = d.uvarint()
	tx.PubKey = d.string()
	tx.Signature = d.string()
	tx.ID = d.string()
	tx.TraceParent = d.string()
}

// UnmarshalBinary decodes what AppendBinary wrote.
func (tx *Tx) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	*tx = Tx{}
	tx.decode(&d)
	if err := d.done(); err != nil {
		return fmt.Errorf("decode tx: %w", err)
	}
	return nil
}

// bytesN reads n raw bytes.
func (d *decoder) bytesN(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.err = fmt.Errorf("%w: want %d bytes, %d left", ErrCorrupt, n, len(d.b))
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

// CheckFormat is the stateless stage of validation (the validate.transaction
// span): addresses, amount, type and, where given or required, the
// signature. It normalises the addresses in place.
func (tx *Tx) CheckFormat(chainID string, requireSignatures bool) error {
	from, err := NormalizeAddress(tx.From)
	if err != nil {
		return fieldErr(ErrMalformed, "from", "%v", err)
	}
	to, err := NormalizeAddress(tx.To)
	if err != nil {
		return fieldErr(ErrMalformed, "to", "%v", err)
	}
	tx.From, tx.To = from, to
	if tx.Amount == 0 {
		return fieldErr(ErrMalformed, "amount", "must be greater than zero")
	}
	if tx.Type == semconv.TxTypeTransfer {
		tx.Type = ""
	}
	if tx.Type != "" && !slices.Contains(semconv.TxTypes, tx.Type) {
		return fieldErr(ErrMalformed, "type", "unknown type %q, want one of %s", tx.Type, strings.Join(semconv.TxTypes, ", "))
	}
	if tx.PubKey == "" && tx.Signature == "" {
		if requireSignatures {
			return fieldErr(ErrBadSignature, "signature", "this chain requires signed transactions (pubkey and signature)")
		}
		return nil
	}
	return tx.checkSignature(chainID)
}

func (tx *Tx) checkSignature(chainID string) error {
	pub, err := hex.DecodeString(strings.TrimPrefix(tx.PubKey, "0x"))
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return fieldErr(ErrMalformed, "pubkey", "want %d bytes of hex (an ed25519 public key)", ed25519.PublicKeySize)
	}
	sig, err := hex.DecodeString(strings.TrimPrefix(tx.Signature, "0x"))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fieldErr(ErrMalformed, "signature", "want %d bytes of hex (an ed25519 signature)", ed25519.SignatureSize)
	}
	if tx.Nonce == nil {
		// Without a nonce the same signed bytes would be valid again and again.
		return fieldErr(ErrBadNonce, "nonce", "a signed transaction must carry its nonce, or it could be replayed")
	}
	if want := AddressFromPubKey(pub); want != tx.From {
		return fieldErr(ErrBadSignature, "pubkey", "the key belongs to %s, not to the sender %s", want, tx.From)
	}
	if !ed25519.Verify(pub, tx.SigningBytes(chainID), sig) {
		return fieldErr(ErrBadSignature, "signature", "does not verify for this transaction and chain %q", chainID)
	}
	return nil
}

// Sign fills PubKey and Signature for chainID with key; From must already be
// the key's address (AddressFromPubKey).
func (tx *Tx) Sign(chainID string, key ed25519.PrivateKey) {
	pub := key.Public().(ed25519.PublicKey)
	tx.PubKey = hex.EncodeToString(pub)
	tx.Signature = hex.EncodeToString(ed25519.Sign(key, tx.SigningBytes(chainID)))
}
