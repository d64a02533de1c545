package events

import (
	"strings"
	"testing"
)

func TestRegionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Regions
		want string // "" for valid
	}{
		{"one region", Regions{}, ""},
		{"two regions", Regions{Name: "eu", Sources: []string{"us"}}, ""},
		{"purge origin", Regions{Name: "eu", Sources: []string{"us"}, PurgeRegion: PurgeOrigin}, ""},
		{"purge every", Regions{Name: "eu", Sources: []string{"us"}, PurgeRegion: PurgeEvery}, ""},
		{"purge here", Regions{Name: "eu", Sources: []string{"us"}, PurgeRegion: "eu"}, ""},
		{"purge in a source", Regions{Name: "eu", Sources: []string{"us"}, PurgeRegion: "us"}, ""},
		{"purge nowhere known", Regions{Name: "eu", Sources: []string{"us"}, PurgeRegion: "ap"}, `cdn.purge_region: "ap" is neither`},
		{"sources without a name", Regions{Sources: []string{"us"}}, "nats.region: is required"},
		{"purge without a name", Regions{PurgeRegion: "eu"}, "cdn.purge_region: needs nats.region"},
		{"name with a dot", Regions{Name: "eu.west"}, `nats.region: "eu.west": want letters`},
		{"name a mode", Regions{Name: PurgeOrigin}, "names a cdn.purge_region mode"},
		{"source is self", Regions{Name: "eu", Sources: []string{"eu"}}, `nats.sources[0]: "eu" is this region`},
		{"source twice", Regions{Name: "eu", Sources: []string{"us", "us"}}, `nats.sources[1]: "us" is listed twice`},
		{"source wildcard", Regions{Name: "eu", Sources: []string{"*"}}, `nats.sources[0]: "*": want letters`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.r.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestPurgesHere: the CDN gets each event's purge from one region only,
// whatever the mode, when every region runs the same setting.
func TestPurgesHere(t *testing.T) {
	regions := []string{"eu", "us", "ap"}
	for _, mode := range []string{"", PurgeOrigin, "us"} {
		for _, published := range regions {
			senders := 0
			for _, here := range regions {
				r := Regions{Name: here, PurgeRegion: mode}
				origin := published
				if published == here {
					origin = ""
				}
				if r.purgesHere(origin) {
					senders++
				}
			}
			if senders != 1 {
				t.Errorf("purge_region %q, event published in %s: purged by %d regions, want 1", mode, published, senders)
			}
		}
	}
	for _, origin := range []string{"", "us"} {
		if !(Regions{Name: "eu", PurgeRegion: PurgeEvery}).purgesHere(origin) {
			t.Errorf("purge_region every: an event from %q is not purged here", origin)
		}
	}
}

func TestSplitSubject(t *testing.T) {
	for _, tc := range []struct {
		subject, origin, tenant string
	}{
		{"cachegate.events.acme.company", "", "acme"},
		{"cachegate.from.us.acme.company", "us", "acme"},
		{"cachegate.from.us", "", ""},
		{"cachegate.from..acme.x", "", ""},
		{"other.acme.company", "", ""},
	} {
		origin, _, _ := splitSubject(tc.subject)
		if origin != tc.origin || subjectTenant(tc.subject) != tc.tenant {
			t.Errorf("%s: origin %q tenant %q; want %q %q", tc.subject, origin, subjectTenant(tc.subject), tc.origin, tc.tenant)
		}
	}
}

// publishedSubject undoes the stream's rewriting, for local and sourced
// events, and leaves what it does not know as it is.
func TestPublishedSubject(t *testing.T) {
	tests := []struct{ stored, want string }{
		{"cachegate.partition.3.acme.company", "cachegate.events.acme.company"},
		{"cachegate.events.acme.company", "cachegate.events.acme.company"},
		{"cachegate.from.west.1.acme.company", "cachegate.from.west.acme.company"},
		{"cachegate.from.west", "cachegate.from.west"},
		{"cachegate.partition.3", "cachegate.partition.3"},
	}
	for _, tt := range tests {
		if got := publishedSubject(tt.stored); got != tt.want {
			t.Errorf("publishedSubject(%q) = %q, want %q", tt.stored, got, tt.want)
		}
	}
}
