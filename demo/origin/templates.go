package origin

import "html/template"

// texts are a page's fixed strings in one locale.
type texts struct {
	Home, Companies, Account, Edit, Gallery, About, Marketplace string
	ListingIntro, City, Category, Back, Footer, Version         string
	NotFound, NotFoundBody, UnknownSite, UnknownSiteBody        string
	Hello, Orders, Order, Status, Shipped, Open, SignedIn       string
	EditIntro, Description, Save, Limit                         string
	Related, GalleryIntro, Image, Caption                       string
}

func textsFor(locale string) texts {
	if locale == LocaleDE {
		return texts{
			Home: "Startseite", Companies: "Unternehmen", Account: "Mein Konto", Edit: "Bearbeiten",
			Gallery: "Galerie", About: "Über uns", Marketplace: "Marktplatz",
			ListingIntro: "Unternehmen auf unserem Marktplatz", City: "Ort", Category: "Branche",
			Back: "Zurück zur Übersicht", Footer: "Ausgeliefert vom Demo-Origin", Version: "Version",
			NotFound: "Seite nicht gefunden", NotFoundBody: "Diese Seite gibt es nicht.",
			UnknownSite: "Unbekannte Website", UnknownSiteBody: "Unter diesem Host gibt es keine Firmen-Website. Versuchen Sie:",
			Hello: "Hallo", Orders: "Ihre letzten Bestellungen", Order: "Bestellung", Status: "Status",
			Shipped: "versandt", Open: "offen", SignedIn: "Angemeldet als",
			EditIntro: "Beschreibung des Unternehmensprofils ändern.", Description: "Beschreibung",
			Save: "Speichern", Limit: "höchstens 2.000 Zeichen",
			Related: "Ebenfalls auf unserem Marktplatz", GalleryIntro: "Bildunterschrift in der Galerie ändern.",
			Image: "Bild", Caption: "Bildunterschrift",
		}
	}
	return texts{
		Home: "Home", Companies: "Companies", Account: "My account", Edit: "Edit",
		Gallery: "Gallery", About: "About us", Marketplace: "Marketplace",
		ListingIntro: "Companies on our marketplace", City: "City", Category: "Category",
		Back: "Back to the listing", Footer: "Served by the demo origin", Version: "Version",
		NotFound: "Page not found", NotFoundBody: "There is no such page.",
		UnknownSite: "Unknown site", UnknownSiteBody: "There is no company site at this host. Try:",
		Hello: "Hello", Orders: "Your recent orders", Order: "Order", Status: "Status",
		Shipped: "shipped", Open: "open", SignedIn: "Signed in as",
		EditIntro: "Change the description of the company profile.", Description: "Description",
		Save: "Save", Limit: "at most 2,000 characters",
		Related: "Also on our marketplace", GalleryIntro: "Change a caption of the gallery.",
		Image: "Image", Caption: "Caption",
	}
}

// pageData is what every template renders; each page fills its part.
type pageData struct {
	T         texts
	Lang      string
	Title     string
	SiteName  string
	Tagline   string
	City      string
	Version   int64
	Rendered  int64
	Generated string

	Description string
	Gallery     []galleryItem
	Listings    []listingView
	Listing     listingView
	User        string
	Orders      []orderView
	Sites       []string // for the unknown-site page
	HostPort    string
}

type galleryItem struct {
	N     int
	Title string
	Color string
}

type listingView struct {
	ID, Name, City, Category, Summary string
	Own                               bool
}

type orderView struct {
	ID      string
	Items   int
	Shipped bool
}

const layout = `{{define "head"}}<!doctype html>
<html lang="{{.Lang}}" data-version="{{.Version}}" data-rendered="{{.Rendered}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="version" content="{{.Version}}">
<meta name="rendered" content="{{.Rendered}}">
<meta name="generated" content="{{.Generated}}">
<title>{{.Title}}{{if .SiteName}} · {{.SiteName}}{{end}}</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1d2430;background:#f5f6f8}
header{background:#1d3557;color:#fff;padding:1rem 2rem}
header a{color:#fff;margin-right:1.2rem;text-decoration:none}
header .brand{font-weight:700;font-size:1.2rem}
main{max-width:60rem;margin:1.5rem auto;padding:0 1.5rem}
.card{background:#fff;border-radius:8px;padding:1.2rem 1.5rem;margin-bottom:1rem;box-shadow:0 1px 3px #0002}
.gallery{display:flex;gap:1rem;flex-wrap:wrap}
.gallery figure{margin:0;width:12rem}
.gallery img{width:12rem;height:8rem;border-radius:6px}
table{border-collapse:collapse;width:100%}
td,th{padding:.4rem .6rem;border-bottom:1px solid #e3e6ea;text-align:left}
textarea{width:100%;min-height:8rem;font:inherit}
footer{color:#6b7380;font-size:.85rem;text-align:center;margin:2rem 0}
</style>
</head>
<body>
<header><span class="brand">{{if .SiteName}}{{.SiteName}}{{else}}{{.T.Marketplace}}{{end}}</span>
{{if .SiteName}}<nav><a href="/">{{.T.Home}}</a><a href="/companies">{{.T.Companies}}</a><a href="/account">{{.T.Account}}</a><a href="/edit">{{.T.Edit}}</a></nav>{{end}}
</header>
<main>
{{end}}
{{define "foot"}}</main>
<footer>{{.T.Footer}} · {{.T.Version}} {{.Version}} · #{{.Rendered}} · {{.Generated}}</footer>
</body>
</html>
{{end}}
{{define "gallery"}}<section class="card" id="gallery" data-fragment="gallery" data-version="{{.Version}}" data-rendered="{{.Rendered}}">
<h2>{{.T.Gallery}}</h2>
<div class="gallery">{{range .Gallery}}<figure><img src="/gallery/{{.N}}.svg" alt="{{.Title}}"><figcaption>{{.Title}}</figcaption></figure>{{end}}</div>
</section>
{{end}}
{{define "related"}}<section class="card" id="listings" data-fragment="listings" data-version="{{.Version}}" data-rendered="{{.Rendered}}">
<h2>{{.T.Related}}</h2>
<ul>{{range .Listings}}<li data-company="{{.ID}}"><a href="/companies/{{.ID}}">{{.Name}}</a> · {{.Category}} · {{.City}}</li>{{end}}</ul>
</section>
{{end}}`

const pages = `
{{define "profile-card"}}<section class="card" id="profile">
<h1>{{.SiteName}}</h1>
<p><em>{{.Tagline}}</em></p>
<h2>{{.T.About}}</h2>
<p id="description">{{.Description}}</p>
<p>{{.T.City}}: {{.City}}</p>
</section>
{{end}}

{{define "profile"}}{{template "head" .}}{{template "profile-card" .}}{{template "gallery" .}}{{template "related" .}}{{template "foot" .}}{{end}}

{{define "profile-shell"}}{{template "head" .}}{{template "profile-card" .}}<esi:include src="/fragments/gallery"/>
<esi:include src="/fragments/listings"/>
{{template "foot" .}}{{end}}

{{define "gallery-fragment"}}{{template "gallery" .}}{{end}}

{{define "listings-fragment"}}{{template "related" .}}{{end}}

{{define "companies"}}{{template "head" .}}<section class="card">
<h1>{{.T.ListingIntro}}</h1>
<table><tr><th>{{.T.Companies}}</th><th>{{.T.Category}}</th><th>{{.T.City}}</th></tr>
{{range .Listings}}<tr data-company="{{.ID}}"><td><a href="/companies/{{.ID}}">{{.Name}}</a><br><small>{{.Summary}}</small></td><td>{{.Category}}</td><td>{{.City}}</td></tr>
{{end}}</table>
</section>
{{template "foot" .}}{{end}}

{{define "company"}}{{template "head" .}}<section class="card" data-company="{{.Listing.ID}}">
<h1>{{.Listing.Name}}</h1>
<p>{{.Listing.Category}} · {{.Listing.City}}</p>
<p id="description">{{.Listing.Summary}}</p>
<p><a href="/companies">{{.T.Back}}</a></p>
</section>
{{template "foot" .}}{{end}}

{{define "account"}}{{template "head" .}}<section class="card" id="account">
<h1>{{.T.Hello}}, {{.User}}</h1>
<p>{{.T.SignedIn}} <strong>{{.User}}</strong></p>
<h2>{{.T.Orders}}</h2>
<table><tr><th>{{.T.Order}}</th><th>#</th><th>{{.T.Status}}</th></tr>
{{range .Orders}}<tr><td>{{.ID}}</td><td>{{.Items}}</td><td>{{if .Shipped}}{{$.T.Shipped}}{{else}}{{$.T.Open}}{{end}}</td></tr>
{{end}}</table>
</section>
{{template "foot" .}}{{end}}

{{define "edit"}}{{template "head" .}}<section class="card">
<h1>{{.T.Edit}}</h1>
<p>{{.T.EditIntro}}</p>
<form method="post" action="/edit">
<input type="hidden" name="locale" value="{{.Lang}}">
<label for="d">{{.T.Description}} ({{.T.Limit}})</label>
<textarea id="d" name="description" maxlength="2000">{{.Description}}</textarea>
<p><button type="submit">{{.T.Save}}</button></p>
</form>
</section>
<section class="card">
<h2>{{.T.Gallery}}</h2>
<p>{{.T.GalleryIntro}}</p>
<form method="post" action="/edit/gallery" id="gallery-form">
<input type="hidden" name="locale" value="{{.Lang}}">
<label for="image">{{.T.Image}}</label>
<select id="image" name="image">{{range .Gallery}}<option value="{{.N}}">{{.N}} · {{.Title}}</option>{{end}}</select>
<label for="title">{{.T.Caption}}</label>
<input id="title" name="title" maxlength="100" required>
<p><button type="submit">{{.T.Save}}</button></p>
</form>
</section>
{{template "foot" .}}{{end}}

{{define "not-found"}}{{template "head" .}}<section class="card">
<h1>{{.T.NotFound}}</h1>
<p>{{.T.NotFoundBody}} <a href="/">{{.T.Home}}</a></p>
</section>
{{template "foot" .}}{{end}}

{{define "unknown-site"}}{{template "head" .}}<section class="card">
<h1>{{.T.UnknownSite}}</h1>
<p>{{.T.UnknownSiteBody}}</p>
<ul>{{range .Sites}}<li><a href="http://{{.}}.localhost{{$.HostPort}}/">{{.}}.localhost{{$.HostPort}}</a></li>{{end}}</ul>
</section>
{{template "foot" .}}{{end}}
`

func parseTemplates() (*template.Template, error) {
	t, err := template.New("layout").Parse(layout)
	if err != nil {
		return nil, err
	}
	return t.Parse(pages)
}
