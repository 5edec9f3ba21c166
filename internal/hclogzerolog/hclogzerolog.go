// Package hclogzerolog adapts zerolog to hashicorp/go-hclog, the logger
// interface of hashicorp/raft, so that Raft's logs land in our log stream:
// hclog's level maps to zerolog's, its name to the "component" field, and
// its key/value arguments (implied and per call) to typed zerolog fields.
// Messages are lower-cased, as ours are; argument names are snake_case
// ("backoff time" and "last-leader-id" become backoff_time and
// last_leader_id), and no line carries a key twice: an argument named like
// a field the line already has (zerolog's level, message and time,
// "component", the Options.Reserved keys of the caller's logger, or an
// earlier argument) is renamed "<name>_<key>" after the logger's name
// (raft_node) or dropped when it repeats an argument.
//
// Options add a policy: a function that changes a line's level (to demote a
// library's benign warnings), and a rate limit on repeated warnings and
// errors (a dead peer makes Raft log the same error several times a second):
// of the lines with the same message and the same values of
// Options.RepeatKeys (warnings and errors, and the info lines named in
// Options.RepeatInfo), one per Options.RepeatEvery is written, and it says in "suppressed" how
// many were dropped since the previous one.
//
// Data flow: Raft (any of its goroutines) → Logger.Log → policy (level, rate
// limit) → the zerolog logger given to New. A Logger is safe for concurrent
// use; loggers derived with With or Named share their parent's level,
// options and rate limiter.
package hclogzerolog

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/rs/zerolog"
)

// Fields the bridge writes itself.
const (
	keyComponent  = "component"  // the hclog logger's name
	keySuppressed = "suppressed" // lines dropped by the rate limit before this one
)

// Options is the policy of a Logger. The zero value writes every line at
// hclog's level.
type Options struct {
	// Level, when set, returns the level a line is written at, given
	// hclog's level, the message as the library wrote it (before
	// lower-casing) and the call's arguments; hclog.Off drops the line. It
	// runs on the logging goroutine and must be cheap.
	Level func(level hclog.Level, msg string, args []any) hclog.Level
	// RepeatEvery, when positive, rate-limits lines at warn and above, and
	// the info lines whose message is in RepeatInfo: of the lines with the
	// same message and the same values of the arguments named in
	// RepeatKeys (a peer's address, say), the first is written and then at
	// most one per RepeatEvery; a written line carries "suppressed" with
	// the number dropped since the previous one. A count is reported only
	// when the line repeats after the interval.
	RepeatEvery time.Duration
	RepeatKeys  []string
	RepeatInfo  []string
	// Reserved are the keys the zerolog logger given to New already
	// carries in its context (e.g. "node"): an argument of that name is
	// renamed "<name>_<key>".
	Reserved []string

	now func() time.Time // tests; nil: time.Now
}

// Logger implements hclog.Logger on top of zerolog.
type Logger struct {
	z     zerolog.Logger
	name  string
	args  []any
	level *atomic.Int32 // hclog.Level; shared by derived loggers
	p     *policy       // shared by derived loggers
}

var _ hclog.Logger = (*Logger)(nil)

// policy is the Options of a Logger and the state of its rate limit.
type policy struct {
	o        Options
	reserved map[string]bool

	mu      sync.Mutex
	repeats map[string]*repeat // message + RepeatKeys values → state
}

// repeat is the rate limit's state of one kind of line.
type repeat struct {
	next    time.Time // lines before this are dropped
	dropped int
}

// maxRepeats bounds the rate limiter's table; beyond it, kinds of lines
// that are not being dropped are forgotten.
const maxRepeats = 256

// New returns a Logger named name (the "component" field) that writes to z
// at z's level, with no policy.
func New(z zerolog.Logger, name string) *Logger { return NewWithOptions(z, name, Options{}) }

// NewWithOptions returns a Logger named name that writes to z at z's level
// with the policy o.
func NewWithOptions(z zerolog.Logger, name string, o Options) *Logger {
	lvl := new(atomic.Int32)
	lvl.Store(int32(hclogLevel(z.GetLevel())))
	p := &policy{o: o, reserved: map[string]bool{
		zerolog.LevelFieldName: true, zerolog.MessageFieldName: true, zerolog.TimestampFieldName: true,
		keyComponent: true, keySuppressed: true,
	}, repeats: make(map[string]*repeat)}
	for _, k := range o.Reserved {
		p.reserved[k] = true
	}
	if p.o.now == nil {
		p.o.now = time.Now
	}
	return &Logger{z: z, name: name, level: lvl, p: p}
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

// Log writes msg at level with args as fields, after the policy.
func (b *Logger) Log(level hclog.Level, msg string, args ...any) {
	if f := b.p.o.Level; f != nil {
		level = f(level, msg, args)
	}
	if level < hclog.Level(b.level.Load()) || level == hclog.Off {
		return
	}
	suppressed := 0
	if b.p.o.RepeatEvery > 0 && (level >= hclog.Warn || level == hclog.Info && slices.Contains(b.p.o.RepeatInfo, msg)) {
		var ok bool
		if ok, suppressed = b.p.allow(b.repeatKey(msg, args)); !ok {
			return
		}
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
	if suppressed > 0 {
		ev = ev.Int(keySuppressed, suppressed)
	}
	// The call's arguments win over the implied ones of the same name.
	var seen []string
	ev, seen = b.addArgs(ev, args, seen)
	ev, _ = b.addArgs(ev, b.args, seen)
	ev.Msg(strings.ToLower(msg))
}

// repeatKey identifies a kind of line for the rate limit: its message and
// the values of its RepeatKeys arguments.
func (b *Logger) repeatKey(msg string, args []any) string {
	key := msg
	for _, k := range b.p.o.RepeatKeys {
		for _, list := range [][]any{args, b.args} {
			for i := 0; i+1 < len(list); i += 2 {
				if s, ok := list[i].(string); ok && s == k {
					key += "\x00" + k + "=" + fmt.Sprint(list[i+1])
				}
			}
		}
	}
	return key
}

// allow reports whether a line of kind key may be written now, and how
// many of its kind were dropped since the last one written.
func (p *policy) allow(key string) (bool, int) {
	now := p.o.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.repeats[key]
	if r == nil {
		if len(p.repeats) >= maxRepeats {
			for k, old := range p.repeats {
				if old.dropped == 0 && !now.Before(old.next) {
					delete(p.repeats, k)
				}
			}
		}
		r = &repeat{}
		p.repeats[key] = r
	}
	if now.Before(r.next) {
		r.dropped++
		return false, 0
	}
	n := r.dropped
	r.dropped, r.next = 0, now.Add(p.o.RepeatEvery)
	return true, n
}

// fieldName is the zerolog key of hclog argument k: snake_case, and
// renamed after the logger when it is reserved.
func (b *Logger) fieldName(k string) string {
	k = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return '_'
		}
		return r
	}, k)
	if b.p.reserved[k] {
		prefix, _, _ := strings.Cut(b.name, ".")
		if prefix == "" {
			prefix = "hclog"
		}
		k = prefix + "_" + k
	}
	return k
}

// addArgs writes args as typed fields, skipping keys in seen, and returns
// seen with the keys written.
func (b *Logger) addArgs(ev *zerolog.Event, args []any, seen []string) (*zerolog.Event, []string) {
	for i := 0; i < len(args); i += 2 {
		name, ok := args[i].(string)
		if !ok {
			name = fmt.Sprint(args[i])
		}
		key := b.fieldName(name)
		if slices.Contains(seen, key) {
			continue
		}
		seen = append(seen, key)
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
	return ev, seen
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
