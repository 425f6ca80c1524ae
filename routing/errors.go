package routing

import "fmt"

// ValidationError names the input field that is wrong and why, so the API can
// answer 4xx with the offending field path (e.g. "routes[2].match.any[0].attr").
type ValidationError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error formats the error as "field: message".
func (e *ValidationError) Error() string { return e.Field + ": " + e.Message }

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// prefixed returns err with prefix prepended to its field path; other errors
// pass through untouched.
func prefixed(prefix string, err error) error {
	if v, ok := err.(*ValidationError); ok {
		out := *v
		if out.Field == "" {
			out.Field = prefix
		} else {
			out.Field = prefix + "." + out.Field
		}
		return &out
	}
	return err
}
