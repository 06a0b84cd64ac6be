package pki

import "errors"

// Sentinel errors, matched with errors.Is. The returned errors wrap them with
// the file or node they concern.
var (
	// ErrMissing means a certificate or key file is absent: run `make certs`.
	ErrMissing = errors.New("certificate files missing")
	// ErrBadNodeID means a node id cannot be used in file names and SANs.
	ErrBadNodeID = errors.New("invalid node id")
	// ErrWrongNode means a certificate belongs to another node than expected.
	ErrWrongNode = errors.New("certificate is for another node")
	// ErrNoNodeID means a certificate carries no spiffe://chainotel/node/<id> URI SAN.
	ErrNoNodeID = errors.New("certificate has no chainotel node id")
	// ErrUntrusted means a certificate is not signed by the cluster CA (or has expired).
	ErrUntrusted = errors.New("certificate not trusted by the cluster CA")
	// ErrCAExpired means the cluster CA has expired and must be rotated.
	ErrCAExpired = errors.New("cluster CA expired")
	// ErrMalformed means a PEM file does not hold what its name says.
	ErrMalformed = errors.New("malformed PEM file")
)
