package daemon

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/spool"
)

// bbolt has one writer: a write transaction opened while the same
// goroutine holds one (or a read one) waits forever. That wedged the daemon
// on a malformed inbox line (prepare counted it with a Store method inside
// the drain's Update). This test reads the daemon's and the spool's source
// and fails when code inside a transaction — a function literal taking a
// *spool.Tx — calls a Store method, directly or through any function of
// the package that does (matched by name, conservatively). The daemon's
// packages are this one and its components' (every folder under it).
func TestNoStoreCallInsideATransaction(t *testing.T) {
	storeMethods := methodNames(reflect.TypeFor[*spool.Store]())
	pkgs := []struct{ dir, txType string }{{".", "spool.Tx"}, {"../spool", "Tx"}}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			pkgs = append(pkgs, struct{ dir, txType string }{e.Name(), "spool.Tx"})
		}
	}
	for _, pkg := range pkgs {
		fset := token.NewFileSet()
		files, err := filepath.Glob(filepath.Join(pkg.dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("no Go files in %s", pkg.dir)
		}
		var parsed []*ast.File
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			parsed = append(parsed, af)
		}
		// Functions of the package that reach a Store method, by name.
		bodies := map[string][]*ast.BlockStmt{}
		for _, af := range parsed {
			for _, d := range af.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
					bodies[fd.Name.Name] = append(bodies[fd.Name.Name], fd.Body)
				}
			}
		}
		reaches := map[string]bool{}
		for changed := true; changed; {
			changed = false
			for name, bs := range bodies {
				if reaches[name] {
					continue
				}
				for _, b := range bs {
					if len(storeCalls(b, storeMethods, reaches, pkg.txType)) > 0 {
						reaches[name], changed = true, true
						break
					}
				}
			}
		}
		report := func(body ast.Node) {
			for _, c := range storeCalls(body, storeMethods, reaches, pkg.txType) {
				t.Errorf("%s: %s inside a transaction: it opens another one (or reaches a Store method that does); give it the *Tx instead", fset.Position(c.Pos()), callName(c))
			}
		}
		for _, af := range parsed {
			ast.Inspect(af, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.FuncDecl: // the methods of Tx run inside one
					if n.Recv != nil && n.Body != nil && exprString(n.Recv.List[0].Type) == "*"+pkg.txType {
						report(n.Body)
					}
				case *ast.FuncLit:
					if takesTx(n, pkg.txType) {
						report(n.Body)
						return false
					}
				}
				return true
			})
		}
	}
}

func methodNames(typ reflect.Type) map[string]bool {
	m := map[string]bool{}
	for i := range typ.NumMethod() {
		m[typ.Method(i).Name] = true
	}
	return m
}

func takesTx(fl *ast.FuncLit, txType string) bool {
	for _, p := range fl.Type.Params.List {
		if star, ok := p.Type.(*ast.StarExpr); ok && exprString(star.X) == txType {
			return true
		}
	}
	return false
}

// storeCalls lists the calls in body to a Store method on anything but a
// transaction, or to a function known to reach one. Nested function
// literals taking a transaction are checked on their own.
func storeCalls(body ast.Node, storeMethods, reaches map[string]bool, txType string) []*ast.CallExpr {
	var out []*ast.CallExpr
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			if takesTx(n, txType) {
				return false
			}
		case *ast.CallExpr:
			switch fn := n.Fun.(type) {
			case *ast.SelectorExpr:
				recv := exprString(fn.X)
				if recv == "t" || recv == "tx" {
					return true // the transaction's own methods (checked as bodies below)
				}
				// The spool is in.store, a.s.store, d.store, ... and s
				// or t.s inside package spool.
				last := recv[strings.LastIndex(recv, ".")+1:]
				storeLike := last == "store" || last == "s"
				if storeMethods[fn.Sel.Name] && storeLike || !storeMethods[fn.Sel.Name] && reaches[fn.Sel.Name] {
					out = append(out, n)
				}
			case *ast.Ident:
				if reaches[fn.Name] {
					out = append(out, n)
				}
			}
		}
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Pos() < out[j].Pos() })
	return out
}

func callName(c *ast.CallExpr) string { return exprString(c.Fun) + "()" }

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	case *ast.CallExpr:
		return exprString(e.Fun) + "()"
	case *ast.StarExpr:
		return "*" + exprString(e.X)
	}
	return "?"
}
