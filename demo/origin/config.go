package origin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"
)

// DefaultLatency is the artificial latency of every page when
// Config.Latency is zero.
const DefaultLatency = 20 * time.Millisecond

// MaxDescription is the longest description, in characters, that POST /edit
// accepts.
const MaxDescription = 2000

// MaxCaption is the longest gallery caption, in characters, that POST
// /edit/gallery accepts.
const MaxCaption = 100

// The locales every page is served in; English is the default for requests
// whose Accept-Language names neither.
const (
	LocaleEN = "en"
	LocaleDE = "de"
)

func locales() [2]string { return [2]string{LocaleEN, LocaleDE} }

// Config configures an Origin. The zero value is a working demo origin.
type Config struct {
	// Latency is added to every request but GET /_origin/stats, so that
	// the difference between a cache hit and an origin fetch is visible.
	// Zero means DefaultLatency; a negative value means none.
	Latency time.Duration

	// Tenants are the company sites, each at <ID>.localhost. Nil means
	// DefaultTenants().
	Tenants []Tenant

	// OnEdit is called after POST /edit changed a tenant's description in
	// memory, before the response is written, with the request's context
	// values but not its cancellation (the change must be announced even
	// if the editor leaves) and a 30 s deadline; an error is reported to
	// the editor as 502 (the edit stays applied).
	// The demo publishes company.updated here and waits until it is
	// applied, so the editor's reload shows the change. Nil means nothing
	// is called.
	OnEdit func(ctx context.Context, tenant, description string) error

	// OnGalleryEdit is called after POST /edit/gallery changed a caption of
	// the tenant's gallery, as OnEdit is (same context, deadline and
	// error handling). The demo publishes gallery.updated, tagged
	// gallery:<tenant> alone, so that only the gallery is refetched. Nil
	// means nothing is called.
	OnGalleryEdit func(ctx context.Context, tenant string) error

	// ESI makes the profile page (GET /) a shell: its gallery and its
	// related listings are <esi:include>s of /fragments/gallery and
	// /fragments/listings, each cached with its own tags, and the shell
	// asks for assembly with Surrogate-Control: content="ESI/1.0". False
	// renders both inline, as one page carrying all three tags, for a
	// stack whose edge caches whole pages.
	ESI bool

	// Logger receives edits and failed hooks. Nil means discard.
	Logger *slog.Logger
}

// Localized is a text in each locale.
type Localized struct {
	EN string `json:"en"`
	DE string `json:"de"`
}

// In returns the text for locale, the English text for any other.
func (l Localized) In(locale string) string {
	if locale == LocaleDE {
		return l.DE
	}
	return l.EN
}

// with returns l with the text for locale replaced by s.
func (l Localized) with(locale, s string) Localized {
	if locale == LocaleDE {
		l.DE = s
	} else {
		l.EN = s
	}
	return l
}

// Tenant is one company site of the marketplace.
type Tenant struct {
	// ID is the host label (<ID>.localhost) and the tenant's cache
	// namespace: lowercase letters, digits and '-'.
	ID          string
	Name        string
	City        string
	Tagline     Localized
	Description Localized // what POST /edit replaces, per locale
	Gallery     []Image
	// Listings are the other companies on this tenant's marketplace;
	// GET /companies lists the tenant itself first, then these.
	Listings []Listing
}

// Image is one picture of a tenant's gallery, drawn as an SVG.
type Image struct {
	Title Localized
	Color string // a CSS colour, e.g. "#3b6ea5"
}

// Listing is one company on a tenant's marketplace.
type Listing struct {
	ID       string // the path segment of /companies/<id>, tagged company:<id>
	Name     string
	City     string
	Category Localized
	Summary  Localized
}

// Validate reports what is wrong with the configuration, all at once.
func (c Config) Validate() error {
	tenants := c.Tenants
	if tenants == nil {
		return nil // the defaults are tested
	}
	if len(tenants) == 0 {
		return errors.New("origin: no tenants (nil means the defaults)")
	}
	var errs []error
	seen := map[string]bool{}
	for i, t := range tenants {
		where := fmt.Sprintf("origin: tenant %d (%q)", i, t.ID)
		if !validLabel(t.ID) {
			errs = append(errs, fmt.Errorf("%s: id must be 1-63 lowercase letters, digits or '-', not starting or ending with '-'", where))
		}
		if seen[t.ID] {
			errs = append(errs, fmt.Errorf("%s: duplicate id", where))
		}
		seen[t.ID] = true
		if t.Name == "" {
			errs = append(errs, fmt.Errorf("%s: empty name", where))
		}
		for _, loc := range locales() {
			if err := ValidateDescription(t.Description.In(loc)); err != nil {
				errs = append(errs, fmt.Errorf("%s: description (%s): %w", where, loc, err))
			}
		}
		ids := map[string]bool{t.ID: true}
		for j, l := range t.Listings {
			if !validLabel(l.ID) {
				errs = append(errs, fmt.Errorf("%s: listing %d: id %q must be 1-63 lowercase letters, digits or '-'", where, j, l.ID))
			}
			if ids[l.ID] {
				errs = append(errs, fmt.Errorf("%s: listing %d: duplicate id %q (the tenant itself is listed as %q)", where, j, l.ID, t.ID))
			}
			ids[l.ID] = true
		}
	}
	return errors.Join(errs...)
}

// ValidateDescription reports whether s is acceptable as a description:
// valid UTF-8, not blank, at most MaxDescription characters.
func ValidateDescription(s string) error { return validateText("description", s, MaxDescription) }

// ValidateCaption reports whether s is acceptable as a gallery caption:
// valid UTF-8, not blank, at most MaxCaption characters.
func ValidateCaption(s string) error { return validateText("caption", s, MaxCaption) }

func validateText(what, s string, limit int) error {
	switch n := utf8.RuneCountInString(s); {
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not valid UTF-8", what)
	case isBlank(s):
		return fmt.Errorf("%s is empty", what)
	case n > limit:
		return fmt.Errorf("%s is %d characters long, the limit is %d", what, n, limit)
	}
	return nil
}

func isBlank(s string) bool {
	for _, r := range s {
		if r != ' ' && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}

func validLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}
