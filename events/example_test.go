package events_test

import (
	"fmt"

	"github.com/cachegate/cachegate/events"
)

func ExampleMapper_Map() {
	m, err := events.NewMapper([]events.Rule{
		{Type: "company.updated", Tags: []string{"category:{data.category_id}"}},
	})
	if err != nil {
		panic(err)
	}
	ev, err := events.ParseEvent([]byte(`{"id":"e1","tenant":"acme","type":"company.updated",
		"entity":"company","key":"acme","tags":["gallery:acme"],"data":{"category_id":7}}`))
	if err != nil {
		panic(err)
	}
	req, err := m.Map(ev)
	if err != nil {
		panic(err)
	}
	fmt.Println(req.ID, req.Tenant, req.Tags, ev.Subject())
	// Output: e1 acme [company:acme company gallery:acme category:7] cachegate.events.acme.company
}
