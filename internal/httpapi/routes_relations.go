package httpapi

import "github.com/danielgtaylor/huma/v2"

// relationRoutes registers the reads that understand expand, the admin user list and
// the registry.
func (s *Server) relationRoutes(api huma.API, authed []int) {}
