package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// listLimit bounds every list on the page: production may hold many thousands of rows.
const listLimit = 100

type customer struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type product struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	PriceCents int    `json:"priceCents"`
}

type upload struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	URL  string `json:"url"`
}

type page struct {
	Branch   string `json:"branch"`
	Revision string `json:"revision"`
	// How many rows there are in all; the lists show the first listLimit of them.
	CustomerCount int64      `json:"customerCount"`
	ProductCount  int64      `json:"productCount"`
	Customers     []customer `json:"customers"`
	Products      []product  `json:"products"`
	Uploads       []upload   `json:"uploads"`
	// Nil when no cache is configured or it did not answer: the page works without it.
	Views *int64 `json:"views"`
}

type server struct {
	db      *pgxpool.Pool
	cache   *redis.Client // nil without CACHE_URL
	uploads string
}

func serve(ctx context.Context) error {
	cfg, err := connectConfig()
	if err != nil {
		return err
	}
	poolCfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return err
	}
	poolCfg.ConnConfig = cfg
	db, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return err
	}
	defer db.Close()
	// The database may start after the shop (they start together): serve anyway, and let
	// /healthz keep the pod out of its Service until the database answers. A malformed
	// DATABASE_URL was refused above; an unreachable one is logged once here.
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if err := db.Ping(pingCtx); err != nil {
		slog.Warn("The database does not answer yet", "err", unreachable(cfg, err))
	}
	cancel()

	s := &server{db: db, uploads: uploadsDir()}
	if u := os.Getenv("CACHE_URL"); u != "" {
		opts, err := redis.ParseURL(u)
		if err != nil {
			return errors.New("CACHE_URL is not a valid Redis URL")
		}
		opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, time.Second, time.Second
		s.cache = redis.NewClient(opts)
		defer s.cache.Close()
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /{$}", s.index)
	mux.HandleFunc("GET /uploads/{name...}", s.file)
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	slog.Info("Serving the shop", "addr", srv.Addr, "branch", os.Getenv("GIT_BRANCH"), "revision", os.Getenv("GROVE_REVISION"))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Let in-flight requests finish when the pod is stopped.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// healthz is the readiness and liveness probe: the shop is of no use without its database.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var one int
	if err := s.db.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		slog.Warn("Database did not answer", "err", err)
		http.Error(w, "database unreachable", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

func (s *server) index(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	p := page{Branch: os.Getenv("GIT_BRANCH"), Revision: os.Getenv("GROVE_REVISION")}
	var err error
	if err = s.db.QueryRow(ctx, "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM products)").Scan(&p.CustomerCount, &p.ProductCount); err == nil {
		if p.Customers, err = s.customers(ctx); err == nil {
			p.Products, err = s.products(ctx)
		}
	}
	if err != nil {
		// The details (user, host) go to the log, not to whoever asked.
		slog.Error("Reading the shop failed", "err", err)
		http.Error(w, "the database could not be read", http.StatusServiceUnavailable)
		return
	}
	if p.Uploads, err = listUploads(s.uploads); err != nil {
		slog.Warn("Listing the uploads failed", "dir", s.uploads, "err", err)
	}
	if s.cache != nil {
		if n, err := s.cache.Incr(ctx, "shop:views").Result(); err == nil {
			p.Views = &n
		} else {
			slog.Warn("Counting the view failed", "err", err)
		}
	}
	if r.URL.Query().Get("format") == "json" || strings.Contains(r.Header.Get("Accept"), "application/json") {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := indexPage.Execute(w, p); err != nil {
		slog.Error("Rendering the page failed", "err", err)
	}
}

func (s *server) customers(ctx context.Context) ([]customer, error) {
	rows, err := s.db.Query(ctx, "SELECT id, name, email FROM customers ORDER BY id LIMIT $1", listLimit)
	if err != nil {
		return nil, err
	}
	list := []customer{}
	for rows.Next() {
		var c customer
		if err := rows.Scan(&c.ID, &c.Name, &c.Email); err != nil {
			return nil, err
		}
		list = append(list, c)
	}
	return list, rows.Err()
}

func (s *server) products(ctx context.Context) ([]product, error) {
	rows, err := s.db.Query(ctx, "SELECT id, name, price_cents FROM products ORDER BY id LIMIT $1", listLimit)
	if err != nil {
		return nil, err
	}
	list := []product{}
	for rows.Next() {
		var p product
		if err := rows.Scan(&p.ID, &p.Name, &p.PriceCents); err != nil {
			return nil, err
		}
		list = append(list, p)
	}
	return list, rows.Err()
}

// listUploads lists the regular files under dir, sorted, with slash-separated relative names.
func listUploads(dir string) ([]upload, error) {
	list := []upload{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() || len(list) >= listLimit {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		name := filepath.ToSlash(rel)
		list = append(list, upload{Name: name, Size: info.Size(), URL: "/uploads/" + name})
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return list, nil
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list, err
}

// file serves one upload. os.Root confines the lookup to the uploads directory: neither ".."
// nor a symbolic link can reach outside it.
func (s *server) file(w http.ResponseWriter, r *http.Request) {
	root, err := os.OpenRoot(s.uploads)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer root.Close()
	name := r.PathValue("name")
	if !fs.ValidPath(name) {
		http.NotFound(w, r)
		return
	}
	if info, err := root.Stat(name); err != nil || !info.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	http.ServeFileFS(w, r, root.FS(), name)
}

var indexPage = template.Must(template.New("index").Funcs(template.FuncMap{
	"price": func(cents int) string { return fmt.Sprintf("%d.%02d", cents/100, cents%100) },
	"short": func(rev string) string {
		if len(rev) > 12 {
			return rev[:12]
		}
		return rev
	},
}).Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Shop{{if .Branch}} · {{.Branch}}{{end}}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}table{border-collapse:collapse}td,th{padding:.2rem .8rem;text-align:left;border-bottom:1px solid #ddd}</style>
</head>
<body>
<h1>Shop</h1>
<p>Branch <code>{{or .Branch "unknown"}}</code> at revision <code>{{or (short .Revision) "unknown"}}</code>{{if .Views}} · {{.Views}} page views{{end}}</p>
<h2>Customers ({{.CustomerCount}})</h2>
{{if .Customers}}<table><tr><th>ID</th><th>Name</th><th>Email</th></tr>
{{range .Customers}}<tr><td>{{.ID}}</td><td>{{.Name}}</td><td>{{.Email}}</td></tr>
{{end}}</table>{{else}}<p>No customers yet.</p>{{end}}
<h2>Products ({{.ProductCount}})</h2>
{{if .Products}}<table><tr><th>ID</th><th>Name</th><th>Price</th></tr>
{{range .Products}}<tr><td>{{.ID}}</td><td>{{.Name}}</td><td>{{price .PriceCents}}</td></tr>
{{end}}</table>{{else}}<p>No products yet.</p>{{end}}
<h2>Uploads</h2>
{{if .Uploads}}<ul>
{{range .Uploads}}<li><a href="{{.URL}}">{{.Name}}</a> ({{.Size}} bytes)</li>
{{end}}</ul>{{else}}<p>No uploads.</p>{{end}}
</body>
</html>
`))
