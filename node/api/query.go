package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/consensus"
)

// TxView is a transaction as the API shows it.
type TxView struct {
	Hash chain.Hash `json:"hash"`
	chain.Tx
}

// BlockView is a block as the API shows it.
type BlockView struct {
	Hash   chain.Hash   `json:"hash"`
	Header chain.Header `json:"header"`
	Txs    []TxView     `json:"txs"`
}

func txView(tx chain.Tx) TxView {
	v := TxView{Hash: tx.Hash(), Tx: tx}
	v.Type = tx.TypeOrDefault() // show the default type rather than ""
	return v
}

func blockView(b *chain.Block) BlockView {
	v := BlockView{Hash: b.Hash(), Header: b.Header, Txs: make([]TxView, len(b.Txs))}
	for i := range b.Txs {
		v.Txs[i] = txView(b.Txs[i])
	}
	return v
}

func (a *API) getLatest(w http.ResponseWriter, r *http.Request) {
	if err := a.readBarrier(w, r); err != nil {
		a.writeError(r.Context(), w, err)
		return
	}
	head, _ := a.cfg.Chain.Head()
	b, err := a.cfg.Chain.BlockByHeight(head.Height)
	if err != nil {
		a.writeError(r.Context(), w, err)
		return
	}
	writeJSON(w, http.StatusOK, blockView(b))
}

func (a *API) getBlock(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var (
		b   *chain.Block
		err error
	)
	if err := a.readBarrier(w, r); err != nil {
		a.writeError(r.Context(), w, err)
		return
	}
	if h, perr := strconv.ParseUint(id, 10, 64); perr == nil {
		b, err = a.cfg.Chain.BlockByHeight(h)
	} else if hash, herr := chain.ParseHash(id); herr == nil {
		b, err = a.cfg.Chain.BlockByHash(hash)
	} else {
		err = badRequest("id", "block %q: want a height (a whole number) or a block hash (64 hex digits)", id)
	}
	if err != nil {
		a.writeError(r.Context(), w, err)
		return
	}
	writeJSON(w, http.StatusOK, blockView(b))
}

// TxLookup is the answer of GET /tx/{hash}.
type TxLookup struct {
	TxView
	BlockHash chain.Hash `json:"block_hash"`
	Height    uint64     `json:"height"`
	Index     uint32     `json:"index"`
	// AppliedNonce is the nonce the transaction took (it may have had none).
	AppliedNonce uint64 `json:"applied_nonce"`
}

func (a *API) getTx(w http.ResponseWriter, r *http.Request) {
	hash, err := chain.ParseHash(r.PathValue("hash"))
	if err != nil {
		a.writeError(r.Context(), w, badRequest("hash", "%v", err))
		return
	}
	if err := a.readBarrier(w, r); err != nil {
		a.writeError(r.Context(), w, err)
		return
	}
	tx, loc, err := a.cfg.Chain.Tx(hash)
	if err != nil {
		a.writeError(r.Context(), w, err)
		return
	}
	b, err := a.cfg.Chain.BlockByHeight(loc.Height)
	if err != nil {
		a.writeError(r.Context(), w, err)
		return
	}
	writeJSON(w, http.StatusOK, TxLookup{TxView: txView(*tx), BlockHash: b.Hash(),
		Height: loc.Height, Index: loc.Index, AppliedNonce: loc.Nonce})
}

// AccountView is the answer of GET /accounts/{addr}.
type AccountView struct {
	Address string `json:"address"`
	chain.Account
}

func (a *API) getAccount(w http.ResponseWriter, r *http.Request) {
	addr, err := chain.NormalizeAddress(r.PathValue("addr"))
	if err != nil {
		a.writeError(r.Context(), w, badRequest("addr", "%v", err))
		return
	}
	if err := a.readBarrier(w, r); err != nil {
		a.writeError(r.Context(), w, err)
		return
	}
	acct, err := a.cfg.Chain.Account(addr)
	if err != nil {
		a.writeError(r.Context(), w, fmt.Errorf("read account: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, AccountView{Address: addr, Account: acct})
}

// StatusView is the answer of GET /status.
type StatusView struct {
	consensus.Status
	ChainID     string     `json:"chain_id"`
	GenesisHash chain.Hash `json:"genesis_hash"`
	Height      uint64     `json:"height"`
	HeadHash    chain.Hash `json:"head_hash"`
	MempoolSize int        `json:"mempool_size"`
}

func (a *API) status() StatusView {
	head, hash := a.cfg.Chain.Head()
	return StatusView{
		Status:      a.cfg.Engine.Status(),
		ChainID:     a.cfg.Genesis.ChainID,
		GenesisHash: a.cfg.Genesis.Hash(),
		Height:      head.Height,
		HeadHash:    hash,
		MempoolSize: a.cfg.MempoolLen(),
	}
}

func (a *API) getStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.status())
}
