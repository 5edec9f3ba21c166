package replication

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

// hclogBridge implements hclog.Logger on top of zerolog, so that Raft's logs
// land in our log stream with our keys. hclog's key/value args become fields.
type hclogBridge struct {
	z     zerolog.Logger
	name  string
	args  []any
	level *atomic.Int32 // hclog.Level; shared by derived loggers
}

var _ hclog.Logger = (*hclogBridge)(nil)

func newHclogBridge(z zerolog.Logger, name string) *hclogBridge {
	lvl := new(atomic.Int32)
	lvl.Store(int32(hclogLevel(z.GetLevel())))
	return &hclogBridge{z: z, name: name, level: lvl}
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

func (b *hclogBridge) Log(level hclog.Level, msg string, args ...any) {
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

func (b *hclogBridge) Trace(msg string, args ...any) { b.Log(hclog.Trace, msg, args...) }
func (b *hclogBridge) Debug(msg string, args ...any) { b.Log(hclog.Debug, msg, args...) }
func (b *hclogBridge) Info(msg string, args ...any)  { b.Log(hclog.Info, msg, args...) }
func (b *hclogBridge) Warn(msg string, args ...any)  { b.Log(hclog.Warn, msg, args...) }
func (b *hclogBridge) Error(msg string, args ...any) { b.Log(hclog.Error, msg, args...) }

func (b *hclogBridge) IsTrace() bool { return hclog.Level(b.level.Load()) <= hclog.Trace }
func (b *hclogBridge) IsDebug() bool { return hclog.Level(b.level.Load()) <= hclog.Debug }
func (b *hclogBridge) IsInfo() bool  { return hclog.Level(b.level.Load()) <= hclog.Info }
func (b *hclogBridge) IsWarn() bool  { return hclog.Level(b.level.Load()) <= hclog.Warn }
func (b *hclogBridge) IsError() bool { return hclog.Level(b.level.Load()) <= hclog.Error }

func (b *hclogBridge) ImpliedArgs() []any { return b.args }

func (b *hclogBridge) With(args ...any) hclog.Logger {
	c := *b
	c.args = append(append([]any(nil), b.args...), args...)
	return &c
}

func (b *hclogBridge) Name() string { return b.name }

func (b *hclogBridge) Named(name string) hclog.Logger {
	c := *b
	if c.name != "" {
		c.name += "." + name
	} else {
		c.name = name
	}
	return &c
}

func (b *hclogBridge) ResetNamed(name string) hclog.Logger {
	c := *b
	c.name = name
	return &c
}

func (b *hclogBridge) SetLevel(level hclog.Level) { b.level.Store(int32(level)) }
func (b *hclogBridge) GetLevel() hclog.Level      { return hclog.Level(b.level.Load()) }

func (b *hclogBridge) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(b.StandardWriter(opts), "", 0)
}

func (b *hclogBridge) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return stdWriter{b}
}

type stdWriter struct{ b *hclogBridge }

func (w stdWriter) Write(p []byte) (int, error) {
	w.b.Info(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
