// Package hclogzerolog adapts zerolog to hashicorp/go-hclog, the logger
// interface of hashicorp/raft, so that Raft's logs land in our log stream:
// hclog's level maps to zerolog's, its name to the "component" field, and
// its key/value arguments (implied and per call) to typed zerolog fields.
// Messages are lower-cased, as ours are.
//
// Data flow: Raft (any of its goroutines) → Logger.Log → the zerolog
// logger given to New. A Logger is safe for concurrent use; loggers derived
// with With or Named share their parent's level.
package hclogzerolog

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/rs/zerolog"
)

// keyComponent is the field that carries the hclog logger's name.
const keyComponent = "component"

// Logger implements hclog.Logger on top of zerolog.
type Logger struct {
	z     zerolog.Logger
	name  string
	args  []any
	level *atomic.Int32 // hclog.Level; shared by derived loggers
}

var _ hclog.Logger = (*Logger)(nil)

// New returns a Logger named name (the "component" field) that writes to z
// at z's level.
func New(z zerolog.Logger, name string) *Logger {
	lvl := new(atomic.Int32)
	lvl.Store(int32(hclogLevel(z.GetLevel())))
	return &Logger{z: z, name: name, level: lvl}
}

func hclogLevel(l zerolog.Level) hclog.Level {
	switch {
	case l <= zerolog.TraceLevel:
		return hclog.Trace
	case l == zerolog.DebugLevel:
		return hclog.Debug
	case l == zerolog.InfoLevel:
		return hclog.Info
	case l == zerolog.WarnLevel:
		return hclog.Warn
	case l == zerolog.Disabled:
		return hclog.Off
	default:
		return hclog.Error
	}
}

// Log writes msg at level with args as fields.
func (b *Logger) Log(level hclog.Level, msg string, args ...any) {
	if level < hclog.Level(b.level.Load()) || level == hclog.Off {
		return
	}
	var ev *zerolog.Event
	switch level {
	case hclog.Trace:
		ev = b.z.Trace()
	case hclog.Debug:
		ev = b.z.Debug()
	case hclog.Info, hclog.NoLevel:
		ev = b.z.Info()
	case hclog.Warn:
		ev = b.z.Warn()
	default:
		ev = b.z.Error()
	}
	if ev == nil {
		return
	}
	if b.name != "" {
		ev = ev.Str(keyComponent, b.name)
	}
	ev = addArgs(addArgs(ev, b.args), args)
	ev.Msg(strings.ToLower(msg))
}

func addArgs(ev *zerolog.Event, args []any) *zerolog.Event {
	for i := 0; i < len(args); i += 2 {
		key, ok := args[i].(string)
		if !ok {
			key = fmt.Sprint(args[i])
		}
		if i+1 >= len(args) {
			ev = ev.Bool(key, true)
			break
		}
		switch v := args[i+1].(type) {
		case string:
			ev = ev.Str(key, v)
		case error:
			ev = ev.AnErr(key, v)
		case time.Duration:
			ev = ev.Dur(key, v)
		case int:
			ev = ev.Int(key, v)
		case uint64:
			ev = ev.Uint64(key, v)
		case bool:
			ev = ev.Bool(key, v)
		case fmt.Stringer:
			ev = ev.Stringer(key, v)
		case hclog.Format:
			ev = ev.Str(key, fmt.Sprintf(v[0].(string), v[1:]...))
		default:
			ev = ev.Interface(key, v)
		}
	}
	return ev
}

// Trace, Debug, Info, Warn and Error log msg at their level.
func (b *Logger) Trace(msg string, args ...any) { b.Log(hclog.Trace, msg, args...) }
func (b *Logger) Debug(msg string, args ...any) { b.Log(hclog.Debug, msg, args...) }
func (b *Logger) Info(msg string, args ...any)  { b.Log(hclog.Info, msg, args...) }
func (b *Logger) Warn(msg string, args ...any)  { b.Log(hclog.Warn, msg, args...) }
func (b *Logger) Error(msg string, args ...any) { b.Log(hclog.Error, msg, args...) }

// IsTrace, IsDebug, IsInfo, IsWarn and IsError report whether that level is logged.
func (b *Logger) IsTrace() bool { return hclog.Level(b.level.Load()) <= hclog.Trace }
func (b *Logger) IsDebug() bool { return hclog.Level(b.level.Load()) <= hclog.Debug }
func (b *Logger) IsInfo() bool  { return hclog.Level(b.level.Load()) <= hclog.Info }
func (b *Logger) IsWarn() bool  { return hclog.Level(b.level.Load()) <= hclog.Warn }
func (b *Logger) IsError() bool { return hclog.Level(b.level.Load()) <= hclog.Error }

// ImpliedArgs returns the arguments added by With.
func (b *Logger) ImpliedArgs() []any { return b.args }

// With returns a logger that adds args to every message.
func (b *Logger) With(args ...any) hclog.Logger {
	c := *b
	c.args = append(append([]any(nil), b.args...), args...)
	return &c
}

// Name returns the logger's name (the component field).
func (b *Logger) Name() string { return b.name }

// Named returns a logger named "<name>.<sub>".
func (b *Logger) Named(name string) hclog.Logger {
	c := *b
	if c.name != "" {
		c.name += "." + name
	} else {
		c.name = name
	}
	return &c
}

// ResetNamed returns a logger named name.
func (b *Logger) ResetNamed(name string) hclog.Logger {
	c := *b
	c.name = name
	return &c
}

// SetLevel and GetLevel set and read the level shared with derived loggers.
func (b *Logger) SetLevel(level hclog.Level) { b.level.Store(int32(level)) }
func (b *Logger) GetLevel() hclog.Level      { return hclog.Level(b.level.Load()) }

// StandardLogger returns a standard library logger that logs at info.
func (b *Logger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(b.StandardWriter(opts), "", 0)
}

// StandardWriter returns a writer that logs each write at info.
func (b *Logger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return stdWriter{b}
}

type stdWriter struct{ b *Logger }

func (w stdWriter) Write(p []byte) (int, error) {
	w.b.Info(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
