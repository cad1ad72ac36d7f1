// Command shop is the example application of examples/shop: a small web shop whose every branch
// Grove runs as its own Environment. One binary serves the site and runs the manifest's hooks and
// cron, so the image the Environment runs is the image its Jobs run.
//
//	shop serve                                  the web application on $PORT
//	shop migrate [--sql STATEMENT]...           the deploy hook: creates the tables if missing, then runs the branch's statements
//	shop seed [--customers N] [--products N]    deterministic sample rows, for production data
//	shop sanitize                               the sanitize hook: replaces personal data
//	shop cleanup [--max-age D]                  the cron: deletes old files from the uploads
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const usage = `usage: shop <command> [flags]

commands:
  serve      serve the shop over HTTP on $PORT (default 8080)
  migrate    create the tables if they are missing, then run each --sql statement (the deploy hook)
  seed       add deterministic sample customers and products
  sanitize   replace every customer's name and email (the sanitize hook)
  cleanup    delete uploads older than --max-age (the cron)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel(os.Getenv("LOG_LEVEL"))})))

	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx)
	case "migrate":
		var statements []string
		if statements, err = migrateFlags(args); err == nil {
			err = withDatabase(ctx, func(ctx context.Context, conn *pgx.Conn) error { return migrate(ctx, conn, statements) })
		}
	case "seed":
		err = seed(ctx, args)
	case "sanitize":
		err = withDatabase(ctx, sanitize)
	case "cleanup":
		err = cleanup(args)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "shop: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "shop %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

func logLevel(s string) slog.Level {
	var l slog.Level
	if l.UnmarshalText([]byte(s)) != nil {
		return slog.LevelInfo
	}
	return l
}

// databaseURL is the connection string of the relationship named "database". Grove injects
// DATABASE_URL; the separate variables it injects too are the fallback for a hand-made setup.
func databaseURL() (string, error) {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u, nil
	}
	host := os.Getenv("DATABASE_HOST")
	if host == "" {
		return "", errors.New("DATABASE_URL is not set (Grove sets it for a relationship named \"database\")")
	}
	port := os.Getenv("DATABASE_PORT")
	if port == "" {
		port = "5432"
	}
	u := url.URL{
		Scheme: "postgresql",
		User:   url.UserPassword(os.Getenv("DATABASE_USERNAME"), os.Getenv("DATABASE_PASSWORD")),
		Host:   net.JoinHostPort(host, port),
		Path:   "/" + os.Getenv("DATABASE_DATABASE"),
	}
	return u.String(), nil
}

// connectConfig parses the connection string with a short connect timeout, so a hook whose
// database is down fails in seconds with the reason instead of hanging until the Job's deadline.
func connectConfig() (*pgx.ConnConfig, error) {
	dsn, err := databaseURL()
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The parse error would echo the URL, password included.
		return nil, errors.New("DATABASE_URL is not a valid PostgreSQL connection string")
	}
	cfg.ConnectTimeout = 5 * time.Second
	return cfg, nil
}

func unreachable(cfg *pgx.ConnConfig, err error) error {
	return fmt.Errorf("cannot connect to the database at %s: %w", net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)), err)
}

// How long a one-shot command waits for its database. A hook's pod may start before the
// database answers, or before the cluster's network policy knows the new pod and admits it.
const connectPatience = 60 * time.Second

// withDatabase runs a one-shot command on a single connection, once the database answers.
func withDatabase(ctx context.Context, f func(context.Context, *pgx.Conn) error) error {
	cfg, err := connectConfig()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(connectPatience)
	for {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			defer conn.Close(context.Background())
			return f(ctx, conn)
		}
		var pgErr *pgconn.PgError
		// A refused password or a missing database will not change by waiting.
		if errors.As(err, &pgErr) || time.Now().After(deadline) || ctx.Err() != nil {
			return unreachable(cfg, err)
		}
		slog.Info("Waiting for the database", "err", err)
		select {
		case <-ctx.Done():
			return unreachable(cfg, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// migrateFlags reads the statements a branch adds to the migration (--sql, repeatable, in order).
func migrateFlags(args []string) ([]string, error) {
	flags := flag.NewFlagSet("migrate", flag.ContinueOnError)
	var statements []string
	flags.Func("sql", "a statement to run after the tables are in place (repeatable)", func(s string) error {
		statements = append(statements, s)
		return nil
	})
	if err := flags.Parse(args); err != nil {
		return nil, err
	}
	if flags.NArg() > 0 {
		return nil, fmt.Errorf("migrate takes no arguments besides --sql (got %q)", flags.Args())
	}
	return statements, nil
}

// migrate is idempotent, and serialised by an advisory lock because two deploy hooks of quick
// successive revisions can overlap, and concurrent CREATE TABLE IF NOT EXISTS can still collide.
// The branch's own statements run in the same transaction: a failing one changes nothing.
func migrate(ctx context.Context, conn *pgx.Conn, statements []string) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // a no-op after Commit
	_, err = tx.Exec(ctx, `
		SELECT pg_advisory_xact_lock(hashtext('shop.migrate'));
		CREATE TABLE IF NOT EXISTS customers (
			id    bigserial PRIMARY KEY,
			name  text NOT NULL,
			email text NOT NULL UNIQUE
		);
		CREATE TABLE IF NOT EXISTS products (
			id          bigserial PRIMARY KEY,
			name        text NOT NULL UNIQUE,
			price_cents integer NOT NULL CHECK (price_cents >= 0)
		);`)
	if err != nil {
		return err
	}
	for i, statement := range statements {
		fmt.Printf("Running statement %d: %s\n", i+1, statement)
		if _, err := tx.Exec(ctx, statement); err != nil {
			return fmt.Errorf("statement %d (%s) failed, nothing was changed: %w", i+1, statement, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	fmt.Printf("Migrated: tables customers and products are in place, %d more statements ran\n", len(statements))
	return nil
}

var (
	firstNames = []string{"Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter"}
	lastNames  = []string{"Archer", "Baker", "Carter", "Dyer", "Fisher", "Gardner", "Hunter", "Mason", "Porter", "Turner"}
	adjectives = []string{"Oak", "Linen", "Copper", "Walnut", "Wool", "Ceramic", "Brass", "Cotton"}
	nouns      = []string{"Chair", "Lamp", "Table", "Mug", "Blanket", "Vase", "Shelf", "Rug", "Bowl"}
)

// seed adds rows that are the same on every run (row i always gets the same name, email and
// price), so seeding twice adds nothing and two seeded databases compare equal.
func seed(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("seed", flag.ContinueOnError)
	customers := flags.Int("customers", 100, "how many customers")
	products := flags.Int("products", 50, "how many products")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *customers < 0 || *products < 0 {
		return errors.New("--customers and --products must not be negative")
	}
	return withDatabase(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		// The rows are generated by the server, so a large seed is one round trip.
		c, err := conn.Exec(ctx, `
			INSERT INTO customers (name, email)
			SELECT f || ' ' || l, lower(f) || '.' || i || '@shop.example'
			FROM generate_series(1, $1::int) AS i,
			     LATERAL (SELECT ($2::text[])[1 + (i - 1) % cardinality($2::text[])] AS f,
			                     ($3::text[])[1 + (i - 1) / cardinality($2::text[]) % cardinality($3::text[])] AS l) AS n
			ON CONFLICT (email) DO NOTHING`, *customers, firstNames, lastNames)
		if err != nil {
			return fmt.Errorf("adding customers: %w", err)
		}
		p, err := conn.Exec(ctx, `
			INSERT INTO products (name, price_cents)
			SELECT ($2::text[])[1 + (i - 1) % cardinality($2::text[])] || ' ' ||
			       ($3::text[])[1 + (i - 1) / cardinality($2::text[]) % cardinality($3::text[])] || ' ' || i,
			       100 + (i * 7919) % 9900
			FROM generate_series(1, $1::int) AS i
			ON CONFLICT (name) DO NOTHING`, *products, adjectives, nouns)
		if err != nil {
			return fmt.Errorf("adding products: %w", err)
		}
		fmt.Printf("Seeded %d customers and %d products (%d and %d were there already)\n",
			c.RowsAffected(), p.RowsAffected(), int64(*customers)-c.RowsAffected(), int64(*products)-p.RowsAffected())
		return nil
	})
}

// sanitize runs on a clone of production before any application of the new Environment starts,
// so the clone holds no personal data. One statement: either every row is replaced or none is.
func sanitize(ctx context.Context, conn *pgx.Conn) error {
	tag, err := conn.Exec(ctx, `
		UPDATE customers
		SET name = 'Customer ' || id, email = 'customer-' || id || '@example.invalid'
		WHERE name IS DISTINCT FROM 'Customer ' || id OR email IS DISTINCT FROM 'customer-' || id || '@example.invalid'`)
	if err != nil {
		return fmt.Errorf("replacing customer data: %w", err)
	}
	fmt.Printf("Sanitized %d customers\n", tag.RowsAffected())
	return nil
}

// cleanup needs no database: the uploads are files on the application's volume.
func cleanup(args []string) error {
	flags := flag.NewFlagSet("cleanup", flag.ContinueOnError)
	maxAge := flags.Duration("max-age", 7*24*time.Hour, "delete files older than this")
	if err := flags.Parse(args); err != nil {
		return err
	}
	dir := uploadsDir()
	cutoff := time.Now().Add(-*maxAge)
	var deleted, kept int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.ModTime().After(cutoff) {
			kept++
			return nil
		}
		if err := os.Remove(path); err != nil {
			return err
		}
		deleted++
		fmt.Printf("Deleted %s (last changed %s)\n", path, info.ModTime().UTC().Format(time.RFC3339))
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) && deleted == 0 && kept == 0 {
		fmt.Printf("Nothing to clean: %s does not exist\n", dir)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Printf("Deleted %d files older than %s from %s; kept %d\n", deleted, strings.TrimSuffix(maxAge.String(), "0m0s"), dir, kept)
	return nil
}

func uploadsDir() string {
	if d := os.Getenv("UPLOADS_DIR"); d != "" {
		return d
	}
	return "/app/uploads"
}
