package api

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPI is the API's contract; a test keeps it in step with the routes.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3 document.
func OpenAPI() []byte { return openAPI }

func serveOpenAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPI)
}
