package chainotlpreceiver

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// OTLP/HTTP as the core otlp receiver serves it (v0.161.0 otlphttp.go,
// encoder.go): POST only (405), protobuf or JSON (415 otherwise), 400 for
// a body that does not decode, the pipeline's errors as rpc.Status in the
// request's encoding with the HTTP code of their gRPC code, Retry-After
// when the status says when to retry. A protobuf body goes to the sampler
// as it is; a JSON one is decoded and encoded as protobuf first.

const (
	pbContentType       = "application/x-protobuf"
	jsonContentType     = "application/json"
	fallbackContentType = jsonContentType
)

var fallbackMsg = []byte(`{"code": 13, "message": "failed to marshal error message"}`)

func (r *chainOTLP) handleTraces(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		hst := http.StatusMethodNotAllowed
		writeResponse(w, "text/plain", hst, fmt.Appendf(nil, "%v method not allowed, supported: [POST]", hst))
		return
	}
	isJSON := false
	switch mimeType(req.Header.Get("Content-Type")) {
	case pbContentType:
	case jsonContentType:
		isJSON = true
	default:
		hst := http.StatusUnsupportedMediaType
		writeResponse(w, "text/plain", hst, fmt.Appendf(nil, "%v unsupported media type, supported: [%s, %s]", hst, jsonContentType, pbContentType))
		return
	}
	body, err := io.ReadAll(req.Body)
	if err == nil {
		err = req.Body.Close()
	}
	if err != nil {
		writeError(w, isJSON, err, http.StatusBadRequest)
		return
	}
	data, format := body, dataFormatProtobuf
	if isJSON {
		format = dataFormatJSON
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(body)
		if err != nil {
			writeError(w, isJSON, err, http.StatusBadRequest)
			return
		}
		if data, err = (&ptrace.ProtoMarshaler{}).MarshalTraces(td); err != nil {
			writeError(w, isJSON, err, http.StatusInternalServerError)
			return
		}
	}
	err = r.export(req.Context(), r.obsHTTP, format, data)
	if m := (errMalformed{}); errors.As(err, &m) {
		writeError(w, isJSON, m.error, http.StatusBadRequest)
		return
	}
	if err != nil {
		writeError(w, isJSON, err, http.StatusInternalServerError)
		return
	}
	resp := ptraceotlp.NewExportResponse()
	var msg []byte
	if isJSON {
		msg, err = resp.MarshalJSON()
	} else {
		msg, err = resp.MarshalProto()
	}
	if err != nil {
		writeError(w, isJSON, err, http.StatusInternalServerError)
		return
	}
	writeResponse(w, contentType(isJSON), http.StatusOK, msg)
}

func contentType(isJSON bool) string {
	if isJSON {
		return jsonContentType
	}
	return pbContentType
}

func mimeType(contentType string) string {
	t, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	return t
}

// writeError answers err as an rpc.Status: a gRPC status keeps its code
// (and gives the HTTP code), anything else gets code from statusCode.
func writeError(w http.ResponseWriter, isJSON bool, err error, statusCode int) {
	s, ok := status.FromError(err)
	if ok {
		statusCode = httpCodeOf(s.Code())
	} else {
		s = status.New(grpcCodeOf(statusCode), err.Error())
	}
	writeStatus(w, isJSON, statusCode, s)
}

// confighttpErrorHandler answers the errors confighttp's handlers raise
// (decompression, body size) as the core receiver's errorHandler does.
func confighttpErrorHandler() confighttp.ToServerOption {
	return confighttp.WithErrorHandler(func(w http.ResponseWriter, req *http.Request, msg string, statusCode int) {
		s := status.New(grpcCodeOf(statusCode), msg)
		ct := req.Header.Get("Content-Type")
		if ct == "" {
			ct = fallbackContentType
		}
		switch mimeType(ct) {
		case pbContentType:
			writeStatus(w, false, statusCode, s)
		case jsonContentType:
			writeStatus(w, true, statusCode, s)
		default:
			writeResponse(w, fallbackContentType, http.StatusInternalServerError, fallbackMsg)
		}
	})
}

func writeStatus(w http.ResponseWriter, isJSON bool, statusCode int, s *status.Status) {
	if statusCode == http.StatusTooManyRequests || statusCode == http.StatusServiceUnavailable {
		for _, d := range s.Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok {
				w.Header().Set("Retry-After", strconv.FormatInt(int64(ri.GetRetryDelay().AsDuration()/time.Second), 10))
			}
		}
	}
	var msg []byte
	var err error
	if isJSON {
		msg, err = protojson.Marshal(s.Proto())
	} else {
		msg, err = proto.Marshal(s.Proto())
	}
	if err != nil {
		writeResponse(w, fallbackContentType, http.StatusInternalServerError, fallbackMsg)
		return
	}
	writeResponse(w, contentType(isJSON), statusCode, msg)
}

func writeResponse(w http.ResponseWriter, contentType string, statusCode int, msg []byte) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(statusCode)
	_, _ = w.Write(msg) // nothing to do when the client is gone
}

// httpCodeOf is the core receiver's GetHTTPStatusCodeFromStatus.
func httpCodeOf(c codes.Code) int {
	switch c {
	case codes.Canceled, codes.DeadlineExceeded, codes.Aborted, codes.OutOfRange, codes.Unavailable, codes.DataLoss:
		return http.StatusServiceUnavailable
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.InvalidArgument:
		return http.StatusBadRequest
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.Unimplemented:
		return http.StatusNotFound
	default:
		return http.StatusInternalServerError
	}
}

// grpcCodeOf is the collector's NewStatusFromMsgAndHTTPCode mapping.
func grpcCodeOf(statusCode int) codes.Code {
	switch statusCode {
	case http.StatusBadRequest:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.Unimplemented
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return codes.Unavailable
	default:
		return codes.Unknown
	}
}
