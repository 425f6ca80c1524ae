// Command switchboard runs the Switchboard contact center: `dev` runs everything in one
// process; `api`, `worker` and `media` run the parts separately; `migrate` applies the
// database schema.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: switchboard <command> [flags]

commands:
  dev       everything in one process: embedded Temporal server and Web UI, migrations,
            API, worker and SIP media listener
  api       the HTTP API
  worker    the Temporal worker (workflows and activities)
  media     the SIP media worker
  migrate   apply database migrations and exit

Run 'switchboard <command> -h' for the flags; each flag can also be set with the
SWITCHBOARD_* environment variable named in its help.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "switchboard:", err)
		}
		os.Exit(1)
	}
}

// run is main without the process: tests call it with their own arguments,
// environment and context.
func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return flag.ErrHelp
	}
	commands := map[string]func(context.Context, *config, io.Writer) error{
		"dev":     runDev,
		"api":     runAPI,
		"worker":  runWorker,
		"media":   runMedia,
		"migrate": runMigrate,
	}
	cmd, ok := commands[args[0]]
	if !ok {
		if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			fmt.Fprint(os.Stderr, usage)
			return flag.ErrHelp
		}
		return fmt.Errorf("unknown command %q\n\n%s", args[0], usage)
	}
	var cfg config
	if err := cfg.parse(args[0], args[1:], getenv); err != nil {
		return err
	}
	return cmd(ctx, &cfg, out)
}
