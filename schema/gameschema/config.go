package gameschema

import "fmt"

// Config bounds what Load accepts. The zero value is not valid: start from
// DefaultConfig.
type Config struct {
	// MaxSchemaBytes bounds the size of a .bfbs file.
	MaxSchemaBytes int
	// MaxSchemaTables bounds the tables the .bfbs verifier visits, so that a
	// hostile file sharing one sub-table from many places cannot make it
	// walk for long.
	MaxSchemaTables int
	// MaxFields bounds the leaf fields of one table, struct leaves counted.
	MaxFields int
	// DefaultMaxLen is the cap on a string or byte-vector field that
	// declares no max_len.
	DefaultMaxLen int
}

// DefaultConfig returns the limits Load uses.
func DefaultConfig() Config {
	return Config{
		MaxSchemaBytes:  1 << 20,
		MaxSchemaTables: 1 << 16,
		MaxFields:       256,
		DefaultMaxLen:   256,
	}
}

// Limits of Config fields.
const (
	maxMaxFields = 4096
	maxLenLimit  = 1 << 16 // the largest max_len accepted
)

// Validate reports a Config field outside what is allowed.
func (c Config) Validate() error {
	switch {
	case c.MaxSchemaBytes < 64 || c.MaxSchemaBytes > 1<<30:
		return fmt.Errorf("max schema bytes %d: must be 64..%d", c.MaxSchemaBytes, 1<<30)
	case c.MaxSchemaTables < 1 || c.MaxSchemaTables > 1<<24:
		return fmt.Errorf("max schema tables %d: must be 1..%d", c.MaxSchemaTables, 1<<24)
	case c.MaxFields < 1 || c.MaxFields > maxMaxFields:
		return fmt.Errorf("max fields %d: must be 1..%d", c.MaxFields, maxMaxFields)
	case c.DefaultMaxLen < 1 || c.DefaultMaxLen > maxLenLimit:
		return fmt.Errorf("default max len %d: must be 1..%d", c.DefaultMaxLen, maxLenLimit)
	}
	return nil
}
