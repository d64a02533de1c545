package origin_test

import (
	"strings"
	"testing"

	"github.com/cachegate/cachegate/demo/origin"
)

func TestDefaultTenants(t *testing.T) {
	o, err := origin.New(origin.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ids := o.Tenants()
	if len(ids) < 2 || ids[0] != "acme" || ids[1] != "berg" {
		t.Fatalf("tenants %v, want acme and berg first", ids)
	}
	if err := (origin.Config{Tenants: origin.DefaultTenants()}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	good := func() origin.Tenant { return origin.DefaultTenants()[0] }
	tests := []struct {
		name    string
		tenants func() []origin.Tenant
		errHas  string
	}{
		{"empty list", func() []origin.Tenant { return []origin.Tenant{} }, "no tenants"},
		{"upper-case id", func() []origin.Tenant { t := good(); t.ID = "Acme"; return []origin.Tenant{t} }, "lowercase"},
		{"dotted id", func() []origin.Tenant { t := good(); t.ID = "a.b"; return []origin.Tenant{t} }, "lowercase"},
		{"duplicate", func() []origin.Tenant { return []origin.Tenant{good(), good()} }, "duplicate id"},
		{"no name", func() []origin.Tenant { t := good(); t.Name = ""; return []origin.Tenant{t} }, "empty name"},
		{"no german description", func() []origin.Tenant { t := good(); t.Description.DE = " "; return []origin.Tenant{t} }, "description (de): description is empty"},
		{"long description", func() []origin.Tenant {
			t := good()
			t.Description.EN = strings.Repeat("x", origin.MaxDescription+1)
			return []origin.Tenant{t}
		}, "limit is 2000"},
		{"listing named like the tenant", func() []origin.Tenant {
			t := good()
			t.Listings = append(t.Listings, origin.Listing{ID: "acme"})
			return []origin.Tenant{t}
		}, "the tenant itself"},
		{"bad listing id", func() []origin.Tenant {
			t := good()
			t.Listings = append(t.Listings, origin.Listing{ID: "a/b"})
			return []origin.Tenant{t}
		}, `id "a/b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := origin.Config{Tenants: tt.tenants()}
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.errHas)
			}
			if _, err := origin.New(cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func TestLocale(t *testing.T) {
	tests := []struct{ header, want string }{
		{"", "en"},
		{"de", "de"},
		{"de-DE,de;q=0.9", "de"},
		{"DE-at", "de"},
		{"en-US,en;q=0.9", "en"},
		{"fr-FR,fr;q=0.9", "en"},
		{"fr,de;q=0.8,en;q=0.7", "de"},
		{"en;q=0.5,de;q=0.8", "de"},
		{"de;q=0", "en"},
		{"de;q=abc", "en"},
		{"deutsch", "en"},
		{"*", "en"},
		{"en, de", "en"},
		{" de ; q=1 ", "de"},
	}
	for _, tt := range tests {
		if got := origin.Locale(tt.header); got != tt.want {
			t.Errorf("Locale(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

func FuzzLocale(f *testing.F) {
	for _, s := range []string{"", "de-DE,de;q=0.9", "en;q=0.5,de;q=0.8", "de;q=", ",;=,", "de;q=1e400"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := origin.Locale(s); got != "en" && got != "de" {
			t.Fatalf("Locale(%q) = %q", s, got)
		}
	})
}

func TestTenantFromHost(t *testing.T) {
	tests := []struct {
		host, want string
		ok         bool
	}{
		{"acme.localhost", "acme", true},
		{"acme.localhost:8080", "acme", true},
		{"ACME.Localhost.", "acme", true},
		{"berg-2.localhost", "berg-2", true},
		{"localhost", "", false},
		{".localhost", "", false},
		{"a.b.localhost", "", false},
		{"acme.example.com", "", false},
		{"127.0.0.1:8080", "", false},
		{"[::1]:8080", "", false},
		{"-x.localhost", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := origin.TenantFromHost(tt.host)
		if got != tt.want || ok != tt.ok {
			t.Errorf("TenantFromHost(%q) = %q, %v; want %q, %v", tt.host, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzTenantFromHost(f *testing.F) {
	for _, s := range []string{"acme.localhost:8080", "localhost", "a.b.localhost", "[::1]:1", "x.localhost."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		id, ok := origin.TenantFromHost(host)
		if ok != (id != "") {
			t.Fatalf("TenantFromHost(%q) = %q, %v", host, id, ok)
		}
		if ok && (strings.ContainsAny(id, ".:/ ") || len(id) > 63) {
			t.Fatalf("TenantFromHost(%q) returned a bad label %q", host, id)
		}
	})
}
