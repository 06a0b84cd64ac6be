package chain

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPoWParamsValidateNamesTheKey(t *testing.T) {
	ok := DevPoWParams()
	require.NoError(t, ok.Validate())
	tests := []struct {
		name string
		mut  func(p *PoWParams)
		want string
	}{
		{"no block time", func(p *PoWParams) { p.TargetBlockTime = Duration{} }, "pow.target_block_time"},
		{"zero min difficulty", func(p *PoWParams) { p.MinDifficulty = 0 }, "pow.min_difficulty"},
		{"initial below min", func(p *PoWParams) { p.InitialDifficulty = p.MinDifficulty - 1 }, "pow.initial_difficulty"},
		{"window of one", func(p *PoWParams) { p.RetargetWindow = 1 }, "pow.retarget_window"},
		{"adjust too wide", func(p *PoWParams) { p.MaxAdjust = 100 }, "pow.max_adjust"},
		{"negative drift", func(p *PoWParams) { p.MaxFutureDrift = Duration{-time.Second} }, "pow.max_future_drift"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DevPoWParams()
			tt.mut(&p)
			err := p.Validate()
			require.ErrorIs(t, err, ErrBadGenesis)
			require.ErrorContains(t, err, tt.want)
			g := DevGenesis([]string{"node0"}, time.Now())
			g.PoW = &p
			require.ErrorContains(t, g.Validate(), tt.want, "the genesis checks its pow section")
		})
	}
	raft := DevGenesis([]string{"node0"}, time.Now())
	pow := *raft
	pow.PoW = &ok
	require.NotEqual(t, raft.Hash(), pow.Hash(), "the pow section is part of the chain's identity")
}
