package policy

import (
	"errors"
	"fmt"
)

// ErrInvalid is wrapped by every error about the content of a policy file.
var ErrInvalid = errors.New("invalid sampling policy")

// Error is a problem at one place in a policy file.
type Error struct {
	File   string
	Line   int
	Column int
	Msg    string
}

// Error formats the problem as file:line:column: message, the way compilers
// do, so editors and operators can jump to it.
func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	if e.Column == 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// Unwrap lets errors.Is(err, ErrInvalid) hold.
func (e *Error) Unwrap() error { return ErrInvalid }
