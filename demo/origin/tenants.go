package origin

// DefaultTenants returns the demo's company sites: acme, berg and cirrus,
// each with a profile, a gallery and a marketplace listing in English and
// German. It returns fresh values on every call, so callers may change them.
func DefaultTenants() []Tenant {
	return []Tenant{
		{
			ID:   "acme",
			Name: "Acme Industrial Supply",
			City: "Rotterdam",
			Tagline: Localized{
				EN: "Fasteners, fittings and tools for industrial buyers since 1952",
				DE: "Verbindungselemente, Armaturen und Werkzeug für Industriekunden seit 1952",
			},
			Description: Localized{
				EN: "Acme supplies more than 40,000 standard and custom parts to manufacturers across Europe. Orders placed by 16:00 ship the same day from our Rotterdam warehouse.",
				DE: "Acme liefert mehr als 40.000 Norm- und Sonderteile an Hersteller in ganz Europa. Bestellungen bis 16:00 Uhr verlassen unser Lager in Rotterdam noch am selben Tag.",
			},
			Gallery: []Image{
				{Title: Localized{EN: "Warehouse", DE: "Lager"}, Color: "#3b6ea5"},
				{Title: Localized{EN: "Assembly line", DE: "Montagelinie"}, Color: "#5a8f3d"},
				{Title: Localized{EN: "Quality lab", DE: "Prüflabor"}, Color: "#a5533b"},
			},
			Listings: []Listing{
				{ID: "nordbolt", Name: "Nordbolt AB", City: "Gothenburg",
					Category: Localized{EN: "Bolts and screws", DE: "Schrauben"},
					Summary:  Localized{EN: "Stainless fasteners to DIN and ISO standards.", DE: "Edelstahl-Verbindungselemente nach DIN und ISO."}},
				{ID: "fluxpipe", Name: "Fluxpipe Ltd", City: "Leeds",
					Category: Localized{EN: "Pipe fittings", DE: "Rohrverbinder"},
					Summary:  Localized{EN: "Press and compression fittings for water and gas.", DE: "Press- und Klemmverbinder für Wasser und Gas."}},
				{ID: "toolhaus", Name: "Toolhaus GmbH", City: "Stuttgart",
					Category: Localized{EN: "Hand tools", DE: "Handwerkzeug"},
					Summary:  Localized{EN: "Torque tools with calibration certificates.", DE: "Drehmomentwerkzeug mit Kalibrierschein."}},
				{ID: "sealwise", Name: "Sealwise BV", City: "Eindhoven",
					Category: Localized{EN: "Seals and gaskets", DE: "Dichtungen"},
					Summary:  Localized{EN: "O-rings and flat gaskets in 300 materials.", DE: "O-Ringe und Flachdichtungen in 300 Werkstoffen."}},
			},
		},
		{
			ID:   "berg",
			Name: "Berg Maschinenbau GmbH",
			City: "Chemnitz",
			Tagline: Localized{
				EN: "Special-purpose machines and automation, engineered in Saxony",
				DE: "Sondermaschinen und Automatisierung aus Sachsen",
			},
			Description: Localized{
				EN: "Berg designs and builds special-purpose machines for the automotive and medical industries, from the first sketch to commissioning on site.",
				DE: "Berg entwickelt und baut Sondermaschinen für die Automobil- und Medizintechnik, von der ersten Skizze bis zur Inbetriebnahme vor Ort.",
			},
			Gallery: []Image{
				{Title: Localized{EN: "Design office", DE: "Konstruktion"}, Color: "#6d4c9f"},
				{Title: Localized{EN: "Machine hall", DE: "Maschinenhalle"}, Color: "#2f7f7a"},
				{Title: Localized{EN: "Commissioning", DE: "Inbetriebnahme"}, Color: "#b08a2e"},
				{Title: Localized{EN: "Service team", DE: "Serviceteam"}, Color: "#8f3d5a"},
			},
			Listings: []Listing{
				{ID: "sachsen-antriebe", Name: "Sachsen Antriebe KG", City: "Zwickau",
					Category: Localized{EN: "Drives", DE: "Antriebstechnik"},
					Summary:  Localized{EN: "Servo drives and gearboxes for machine builders.", DE: "Servoantriebe und Getriebe für den Maschinenbau."}},
				{ID: "optisense", Name: "OptiSense AG", City: "Jena",
					Category: Localized{EN: "Sensors", DE: "Sensorik"},
					Summary:  Localized{EN: "Optical sensors for inline inspection.", DE: "Optische Sensoren für die Inline-Prüfung."}},
				{ID: "elbe-steuerung", Name: "Elbe Steuerungstechnik", City: "Dresden",
					Category: Localized{EN: "Controls", DE: "Steuerungen"},
					Summary:  Localized{EN: "PLC programming and control cabinets.", DE: "SPS-Programmierung und Schaltschrankbau."}},
			},
		},
		{
			ID:   "cirrus",
			Name: "Cirrus Logistics",
			City: "Lyon",
			Tagline: Localized{
				EN: "Temperature-controlled freight across Europe",
				DE: "Temperaturgeführte Transporte in ganz Europa",
			},
			Description: Localized{
				EN: "Cirrus moves pharmaceuticals and food at 2-8 °C with live tracking of every pallet.",
				DE: "Cirrus transportiert Arzneimittel und Lebensmittel bei 2-8 °C und verfolgt jede Palette live.",
			},
			Gallery: []Image{
				{Title: Localized{EN: "Fleet", DE: "Flotte"}, Color: "#2e6fb0"},
				{Title: Localized{EN: "Cold store", DE: "Kühllager"}, Color: "#4a9fc4"},
			},
			Listings: []Listing{
				{ID: "frigopal", Name: "Frigopal SA", City: "Lille",
					Category: Localized{EN: "Cold-chain packaging", DE: "Kühlverpackung"},
					Summary:  Localized{EN: "Insulated pallet covers and boxes.", DE: "Isolierte Palettenhauben und Boxen."}},
				{ID: "trackbee", Name: "Trackbee", City: "Ghent",
					Category: Localized{EN: "Telematics", DE: "Telematik"},
					Summary:  Localized{EN: "Temperature loggers with LTE uplink.", DE: "Temperaturlogger mit LTE-Anbindung."}},
			},
		},
	}
}
