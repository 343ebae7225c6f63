package httpapi

import "github.com/danielgtaylor/huma/v2"

// deletionRoutes registers chain delete, its dry-run plan and the data export.
func (s *Server) deletionRoutes(api huma.API, authed []int) {}
