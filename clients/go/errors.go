package konorkestra

import (
	"fmt"
	"time"
)

// Codes of the agent's HTTP errors (`{"error":{"code",...}}`), and the library's own.
const (
	CodeInvalidInput     = "INVALID_INPUT"
	CodeNotFound         = "NOT_FOUND"
	CodeMethodNotAllowed = "METHOD_NOT_ALLOWED"
	CodePayloadTooLarge  = "PAYLOAD_TOO_LARGE"
	CodeRateLimited      = "RATE_LIMITED"
	CodeUnavailable      = "UNAVAILABLE"
	CodeInternal         = "INTERNAL"

	// CodeUnreachable: nothing answers on the agent's socket (not started, restarting).
	CodeUnreachable = "UNREACHABLE"
	// CodeMalformed: the agent's answer is not what its contract says (not JSON, fields
	// missing or of the wrong type); the library never guesses at such an answer.
	CodeMalformed = "MALFORMED"
	// CodeDecode: the value is valid but does not decode into the caller's type.
	CodeDecode = "DECODE"
)

// Error is an error of the agent (Status > 0) or of the library (Status 0).
type Error struct {
	// Code is one of the Code* constants; match on it, never on Message.
	Code    string
	Message string
	// Status is the agent's HTTP status, 0 when the error did not come from the agent.
	Status int
	// Details are the agent's details (parameter, limit, ...), when it gave any.
	Details map[string]any
	// RetryAfter is the agent's Retry-After, when it gave one.
	RetryAfter time.Duration
	// Err is the underlying error, if any (a dial or JSON error).
	Err error
}

func (e *Error) Error() string {
	s := "kon agent: " + e.Code
	if e.Status > 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil && e.Message == "" {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNotFound) and the like match on the code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == "" && t.Status == 0
}

// Sentinels for errors.Is.
var (
	ErrInvalidInput = &Error{Code: CodeInvalidInput}
	ErrNotFound     = &Error{Code: CodeNotFound}
	ErrRateLimited  = &Error{Code: CodeRateLimited}
	ErrUnavailable  = &Error{Code: CodeUnavailable}
	ErrUnreachable  = &Error{Code: CodeUnreachable}
	ErrMalformed    = &Error{Code: CodeMalformed}
	ErrDecode       = &Error{Code: CodeDecode}
)

func malformed(format string, args ...any) *Error {
	return &Error{Code: CodeMalformed, Message: fmt.Sprintf(format, args...)}
}

// retryable says whether a watch or heartbeat should try again after err.
func retryable(err error) bool {
	e, ok := err.(*Error)
	if !ok {
		return true
	}
	switch e.Code {
	case CodeUnreachable, CodeUnavailable, CodeRateLimited, CodeInternal:
		return true
	}
	return false
}
