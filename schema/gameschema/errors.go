package gameschema

import (
	"errors"
	"fmt"
)

// Errors. Verifying a buffer fails with an error wrapping ErrMalformed (the
// bytes are not a well-formed FlatBuffer of the table) or ErrOutOfRange (well
// formed, but a value breaks the schema's declared range, enum, length or
// UTF-8 rules); the transport closes the connection with 1007 for either.
// Loading a schema fails with an error wrapping ErrBadSchema; when the fault
// is in one table or field it is a *SchemaError naming them.
var (
	// ErrMalformed: the bytes are not a well-formed buffer of the table.
	ErrMalformed = errors.New("malformed buffer")
	// ErrOutOfRange: a value is outside what the schema declares.
	ErrOutOfRange = errors.New("value out of range")
	// ErrBadSchema: the compiled schema is damaged or breaks ticksync's rules.
	ErrBadSchema = errors.New("bad game schema")
)

// SchemaError is a schema refused at load because of one table or field.
type SchemaError struct {
	Table  string // the table (or struct, enum, union) at fault, fully qualified
	Field  string // the field at fault, dotted for struct leaves; empty for the table itself
	Reason string
}

func (e *SchemaError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%v: %s: %s", ErrBadSchema, e.Table, e.Reason)
	}
	return fmt.Sprintf("%v: %s.%s: %s", ErrBadSchema, e.Table, e.Field, e.Reason)
}

// Unwrap makes errors.Is(err, ErrBadSchema) true.
func (e *SchemaError) Unwrap() error { return ErrBadSchema }

func schemaErr(table, field, format string, args ...any) error {
	return &SchemaError{Table: table, Field: field, Reason: fmt.Sprintf(format, args...)}
}

func badSchema(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadSchema}, args...)...)
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

func outOfRange(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrOutOfRange}, args...)...)
}
