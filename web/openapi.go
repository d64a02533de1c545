package web

import (
	_ "embed"
	"encoding/json"
	"net/http"
)

// openAPIDocument describes the admin and event API (OpenAPI 3.1). It is
// written by hand, next to the handlers; the tests hold it to them: every
// registered route documented, every documented route registered, and real
// answers valid against its schemas.
//
//go:embed openapi.json
var openAPIDocument []byte

func (s *Server) openAPI(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, json.RawMessage(openAPIDocument))
	return nil
}
