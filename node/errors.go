package node

import "errors"

// errWrongSender means a peer's raft message names another node as its
// sender than the one its certificate is for.
var errWrongSender = errors.New("raft message in another node's name")
