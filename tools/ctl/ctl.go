package ctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ticksync/ticksync/replication/admin"
)

// Exit codes of ticksyncctl.
const (
	ExitOK     = 0 // the command did what it says
	ExitFailed = 1 // the node refused, failed or could not be reached
	ExitUsage  = 2 // a bad command line: nothing was sent
)

// Defaults.
const (
	DefaultAddr    = "http://127.0.0.1:7350"
	DefaultTimeout = 30 * time.Second
)

// Env is what one run of ticksyncctl gets from its process.
type Env struct {
	// Args are the command-line arguments without the program name.
	Args []string
	// Getenv reads TICKSYNC_ADDR, TICKSYNC_ADMIN_TOKEN and
	// TICKSYNC_AUTH_SECRET (a flag wins over its variable). nil: none set.
	Getenv func(string) string
	// Stdout gets the command's output (tables, JSON); Stderr the errors
	// and usage.
	Stdout, Stderr io.Writer
	// HTTP sends the admin API requests (set it for https with a private
	// CA). nil: a plain client; each request is bounded by -timeout.
	HTTP *http.Client
	// Now is the clock of token and watch. nil: time.Now.
	Now func() time.Time
}

// Run runs the ticksyncctl command line in env and returns its exit code
// (ExitOK, ExitFailed, ExitUsage). ctx ends a watch (Ctrl-C: exit 0) and
// bounds every request. Errors go to env.Stderr, each saying what to do.
func Run(ctx context.Context, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	r := &runner{env: env, out: env.Stdout}
	err := r.run(ctx, env.Args)
	var ue *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(env.Stderr, "ticksyncctl: %s\n", ue.msg)
		if ue.cmd != nil {
			fmt.Fprintf(env.Stderr, "usage: ticksyncctl [flags] %s %s (ticksyncctl %s -h for its flags)\n", ue.cmd.name, ue.cmd.args, ue.cmd.name)
		} else {
			fmt.Fprintln(env.Stderr, "run ticksyncctl -h for the commands and flags")
		}
		return ExitUsage
	default:
		fmt.Fprintf(env.Stderr, "ticksyncctl: %s\n", r.explain(err))
		return ExitFailed
	}
}

// usageError is a bad command line (exit 2).
type usageError struct {
	msg string
	cmd *command // the command it is about, if known
}

func (e *usageError) Error() string { return e.msg }

func usagef(cmd *command, format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), cmd: cmd}
}

// command is one ticksyncctl command.
type command struct {
	name    string
	args    string // the positional arguments, for usage
	summary string
	min     int                          // positional arguments required
	max     int                          // at most (-1: any)
	flags   func(*flag.FlagSet, *runner) // the command's own flags
	api     bool                         // talks to a node (needs -addr, -token)
	run     func(ctx context.Context, r *runner, args []string) error
}

// runner holds one run's settings, from the flags.
type runner struct {
	env     Env
	out     io.Writer
	addr    string
	token   string
	output  string
	timeout time.Duration
	client  *admin.Client
	cmd     *command

	// Command flags.
	game, node, matchID string
	key                 string
	seed                uint64
	authSecret          string
	ttl                 time.Duration
	interval            time.Duration
	count               int

	subject subject // what the command is about, for error messages
}

// globalFlags registers the flags every command takes, in fs, bound to r.
func (r *runner) globalFlags(fs *flag.FlagSet) {
	fs.StringVar(&r.addr, "addr", r.addr, "the node's HTTP address, any node of the cluster (env TICKSYNC_ADDR)")
	fs.StringVar(&r.token, "token", r.token, "the cluster's admin token (env TICKSYNC_ADMIN_TOKEN)")
	fs.StringVar(&r.output, "o", r.output, "output: table or json")
	fs.DurationVar(&r.timeout, "timeout", r.timeout, "bound on each request to the node")
}

func (r *runner) run(ctx context.Context, args []string) error {
	r.addr = r.env.Getenv("TICKSYNC_ADDR")
	if r.addr == "" {
		r.addr = DefaultAddr
	}
	r.token = r.env.Getenv("TICKSYNC_ADMIN_TOKEN")
	r.output = "table"
	r.timeout = DefaultTimeout

	fs := flag.NewFlagSet("ticksyncctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	r.globalFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			r.usage(fs)
			return err
		}
		return usagef(nil, "%v", err)
	}
	if fs.NArg() == 0 {
		return usagef(nil, "no command given")
	}
	name := fs.Arg(0)
	cmd := findCommand(name)
	if cmd == nil {
		return usagef(nil, "unknown command %q", name)
	}
	r.cmd = cmd
	cfs := flag.NewFlagSet("ticksyncctl "+name, flag.ContinueOnError)
	cfs.SetOutput(io.Discard)
	r.globalFlags(cfs)
	if cmd.flags != nil {
		cmd.flags(cfs, r)
	}
	pos, err := parseInterleaved(cfs, fs.Args()[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			r.commandUsage(cmd, cfs)
			return err
		}
		return usagef(cmd, "%v", err)
	}
	if len(pos) < cmd.min || (cmd.max >= 0 && len(pos) > cmd.max) {
		return usagef(cmd, "%s takes %s", name, argCount(cmd))
	}
	if r.output != "table" && r.output != "json" {
		return usagef(cmd, "-o %q: must be table or json", r.output)
	}
	if r.timeout <= 0 {
		return usagef(cmd, "-timeout %v: must be > 0", r.timeout)
	}
	if cmd.api {
		c, err := admin.NewClient(r.addr, r.token)
		if err != nil {
			return usagef(cmd, "-addr %q: %v (e.g. http://127.0.0.1:7350)", r.addr, errors.Unwrap(err))
		}
		if r.env.HTTP != nil {
			c.HTTP = r.env.HTTP
		} else {
			c.HTTP = &http.Client{}
		}
		r.client = c
	}
	return cmd.run(ctx, r, pos)
}

// parseInterleaved parses fs over args, letting flags follow the
// positional arguments too ("match ID -o json"), and returns the
// positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func argCount(cmd *command) string {
	switch {
	case cmd.max == 0:
		return "no arguments"
	case cmd.min == 1 && cmd.max == 1:
		return "one argument: " + cmd.args
	case cmd.min == cmd.max:
		return fmt.Sprintf("%d arguments: %s", cmd.min, cmd.args)
	default:
		return fmt.Sprintf("arguments %s", cmd.args)
	}
}

// ctx bounds one request by -timeout.
func (r *runner) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, r.timeout)
}

func (r *runner) json() bool { return r.output == "json" }

func findCommand(name string) *command {
	i := slices.IndexFunc(commands, func(c *command) bool { return c.name == name })
	if i < 0 {
		return nil
	}
	return commands[i]
}

// usage prints the program's usage (-h).
func (r *runner) usage(fs *flag.FlagSet) {
	w := r.env.Stdout
	fmt.Fprint(w, `Usage: ticksyncctl [flags] <command> [arguments]

ticksyncctl is the operator's tool for a ticksync cluster: it calls the admin
API of any node (which forwards to the leader or a match's owner as needed).
Exit status: 0 done, 1 failed (the error says what to do), 2 bad command line.

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-34s %s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
	fmt.Fprint(w, "\nFlags (before or after the command):\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// commandUsage prints one command's usage (ticksyncctl CMD -h).
func (r *runner) commandUsage(cmd *command, fs *flag.FlagSet) {
	w := r.env.Stdout
	fmt.Fprintf(w, "Usage: ticksyncctl [flags] %s\n\n%s\n\nFlags:\n", strings.TrimSpace(cmd.name+" "+cmd.args), cmd.summary)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
