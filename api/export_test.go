package api

import "github.com/labstack/echo/v4"

// EchoForTest exposes the router so tests can add test-only routes (e.g. one that panics).
func (s *Server) EchoForTest() *echo.Echo { return s.echo }
