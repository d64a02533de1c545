// Package conformance runs the shared-cache rules of RFC 9111, 9110, 5861
// and 9213 that cachegate follows against the real `cachegate serve`
// binary, configured by nothing but its origin (and free listen ports), in
// front of a scripted origin on 127.0.0.1. It is the black-box counterpart
// of the gateway's own tests: what a new user gets with no config file.
//
// Each case names the rule it checks; the run logs how many passed per
// specification and fails on any that did not. The cases that show
// cachegate's deliberate departures from the RFCs (gateway/doc.go) check
// the departure, and say so in their name.
//
//	go test -race -count=1 -v -run TestConformance ./integration/conformance/
package conformance
