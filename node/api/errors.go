package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/chainotel/chainotel/node/chain"
	"github.com/chainotel/chainotel/node/consensus"
	"github.com/chainotel/chainotel/node/mempool"
	"github.com/chainotel/chainotel/node/store"
	"github.com/chainotel/chainotel/semconv"
)

// ErrorBody is every error answer: what is wrong and, when one field is to
// blame, its JSON name.
type ErrorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// httpError is an error with the status it answers.
type httpError struct {
	status int
	field  string
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(field, format string, args ...any) error {
	return &httpError{status: http.StatusBadRequest, field: field, msg: fmt.Sprintf(format, args...)}
}

// statusOf maps an error to its status, field, message and error.type.
func statusOf(err error) (int, ErrorBody, string) {
	body := ErrorBody{Error: err.Error()}
	var he *httpError
	if errors.As(err, &he) {
		body.Field = he.field
		return he.status, body, semconv.ErrorValidation
	}
	var fe *chain.FieldError
	if errors.As(err, &fe) {
		body.Field = fe.Field
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, ErrorBody{Error: fmt.Sprintf("request body over the %d byte limit", tooBig.Limit)}, semconv.ErrorValidation
	case errors.Is(err, chain.ErrMalformed):
		return http.StatusBadRequest, body, semconv.ErrorValidation
	case errors.Is(err, chain.ErrInsufficientFunds), errors.Is(err, chain.ErrBadNonce),
		errors.Is(err, chain.ErrBadSignature), errors.Is(err, chain.ErrFeeTooLow), errors.Is(err, chain.ErrOverflow):
		return http.StatusUnprocessableEntity, body, semconv.ErrorValidation
	case errors.Is(err, mempool.ErrDuplicate):
		return http.StatusConflict, body, semconv.ErrorValidation
	case errors.Is(err, mempool.ErrFull):
		return http.StatusTooManyRequests, body, semconv.ErrorMempoolFull
	case errors.Is(err, consensus.ErrNoQuorum), errors.Is(err, consensus.ErrNotLeader):
		return http.StatusServiceUnavailable, body, semconv.ErrorConsensusTimeout
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, body, ""
	}
	return http.StatusInternalServerError, body, semconv.ErrorInternal
}

// jsonKind names the JSON value a Go type is decoded from.
func jsonKind(t reflect.Type) string {
	if t == reflect.TypeFor[json.Number]() {
		return "number"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "number"
}

// decodeError explains a JSON decoding failure, naming the field when the
// decoder knows it.
func decodeError(err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		tooBig *http.MaxBytesError
	)
	switch {
	case errors.As(err, &tooBig):
		return err
	case errors.Is(err, io.EOF):
		return badRequest("", "empty body: want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "malformed JSON: the body ends early")
	case errors.As(err, &syntax):
		return badRequest("", "malformed JSON at byte %d: %v", syntax.Offset, err)
	case errors.As(err, &typ) && typ.Field == "":
		return badRequest("", "want a JSON object, got %s", typ.Value)
	case errors.As(err, &typ):
		return badRequest(typ.Field, "%s: want a JSON %s, got %s", typ.Field, jsonKind(typ.Type), typ.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return badRequest(name, "unknown field %q", name)
	}
	return badRequest("", "malformed JSON: %v", err)
}
