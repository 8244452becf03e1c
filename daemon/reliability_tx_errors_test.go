package daemon

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/spool"
)

// A write inside a transaction whose error is dropped is lost data the
// commit does not know about (a counter of skipped files was, in
// sessions.fileSkipped). This test reads the daemon's source and fails
// when a call of a *spool.Tx method that returns an error, on a
// transaction a function receives, stands alone as a statement or is
// assigned to _.
func TestNoTxWriteErrorIsDropped(t *testing.T) {
	errType := reflect.TypeFor[error]()
	failing := map[string]bool{}
	typ := reflect.TypeFor[*spool.Tx]()
	for i := range typ.NumMethod() {
		m := typ.Method(i).Type
		if m.NumOut() > 0 && m.Out(m.NumOut()-1) == errType {
			failing[typ.Method(i).Name] = true
		}
	}
	dirs := []string{"."}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			fset := token.NewFileSet()
			af, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(af, func(n ast.Node) bool {
				var ft *ast.FuncType
				var body *ast.BlockStmt
				switch n := n.(type) {
				case *ast.FuncDecl:
					ft, body = n.Type, n.Body
				case *ast.FuncLit:
					ft, body = n.Type, n.Body
				default:
					return true
				}
				txs := map[string]bool{}
				for _, p := range ft.Params.List {
					if star, ok := p.Type.(*ast.StarExpr); ok && exprString(star.X) == "spool.Tx" {
						for _, name := range p.Names {
							txs[name.Name] = true
						}
					}
				}
				if len(txs) == 0 || body == nil {
					return true
				}
				dropped := func(e ast.Expr) {
					c, ok := e.(*ast.CallExpr)
					if !ok {
						return
					}
					if sel, ok := c.Fun.(*ast.SelectorExpr); ok && failing[sel.Sel.Name] && txs[exprString(sel.X)] {
						t.Errorf("%s: the error of %s() is dropped: return it, so the transaction does not commit without it", fset.Position(c.Pos()), exprString(c.Fun))
					}
				}
				ast.Inspect(body, func(n ast.Node) bool {
					switch n := n.(type) {
					case *ast.ExprStmt:
						dropped(n.X)
					case *ast.AssignStmt:
						blank := true
						for _, l := range n.Lhs {
							blank = blank && exprString(l) == "_"
						}
						if blank && len(n.Rhs) == 1 {
							dropped(n.Rhs[0])
						}
					}
					return true
				})
				return true
			})
		}
	}
}
