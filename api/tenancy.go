package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"switchboard/pgstore"
)

// list is the shape of every listing: a page of items and the cursor for the next one.
type list[T any] struct {
	Items     []T    `json:"items"`
	NextAfter string `json:"nextAfter,omitempty"`
}

func newList[T any](items []T, limit int, id func(T) string) list[T] {
	if items == nil {
		items = []T{}
	}
	l := list[T]{Items: items}
	if len(items) == limit {
		l.NextAfter = id(items[len(items)-1])
	}
	return l
}

func page(c echo.Context) (pgstore.Page, error) {
	limit, err := queryInt(c, "limit")
	if err != nil {
		return pgstore.Page{}, err
	}
	p := pgstore.Page{Limit: limit, After: c.QueryParam("after")}
	return p, p.Validate()
}

type me struct {
	User          pgstore.User   `json:"user"`
	Tenant        pgstore.Tenant `json:"tenant"`
	KeyID         string         `json:"apiKeyId"`
	PlatformAdmin bool           `json:"platformAdmin"`
}

func (s *Server) getMe(c echo.Context) error {
	p := principal(c)
	ctx := c.Request().Context()
	u, err := s.store.GetUser(ctx, p.TenantID, p.UserID)
	if err != nil {
		return err
	}
	t, err := s.store.GetTenant(ctx, p.TenantID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, me{User: u, Tenant: t, KeyID: p.KeyID, PlatformAdmin: p.PlatformAdmin})
}

func (s *Server) createTenant(c echo.Context) error {
	if !principal(c).PlatformAdmin {
		return errForbidden("only platform admins may create tenants")
	}
	var in pgstore.NewTenant
	if err := decode(c, &in); err != nil {
		return err
	}
	out, err := s.store.CreateTenant(c.Request().Context(), actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, out)
}

func (s *Server) listTenants(c echo.Context) error {
	p := principal(c)
	pg, err := page(c)
	if err != nil {
		return err
	}
	if !p.PlatformAdmin {
		t, err := s.store.GetTenant(c.Request().Context(), p.TenantID)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, list[pgstore.Tenant]{Items: []pgstore.Tenant{t}})
	}
	ts, err := s.store.ListTenants(c.Request().Context(), pg)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(ts, pg.Limit, func(t pgstore.Tenant) string { return t.ID }))
}

func (s *Server) getTenant(c echo.Context) error {
	p := principal(c)
	id := c.Param("id")
	if id != p.TenantID && !p.PlatformAdmin {
		return errNotFound("tenant not found")
	}
	t, err := s.store.GetTenant(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

func (s *Server) createUser(c echo.Context) error {
	var in pgstore.NewUser
	if err := decode(c, &in); err != nil {
		return err
	}
	u, err := s.store.CreateUser(c.Request().Context(), principal(c).TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, u)
}

func (s *Server) listUsers(c echo.Context) error {
	pg, err := page(c)
	if err != nil {
		return err
	}
	f := pgstore.UserFilter{Role: pgstore.Role(c.QueryParam("role")), Page: pg}
	us, err := s.store.ListUsers(c.Request().Context(), principal(c).TenantID, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(us, pg.Limit, func(u pgstore.User) string { return u.ID }))
}

// canSeeUser: admins and supervisors see everyone in their tenant; others only themselves.
func canSeeUser(p pgstore.Principal, userID string) bool {
	return p.Role == pgstore.RoleAdmin || p.Role == pgstore.RoleSupervisor || p.UserID == userID
}

func (s *Server) getUser(c echo.Context) error {
	p := principal(c)
	u, err := s.store.GetUser(c.Request().Context(), p.TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	if !canSeeUser(p, u.ID) {
		return errForbidden("you may only read your own user")
	}
	return c.JSON(http.StatusOK, u)
}

func (s *Server) updateUser(c echo.Context) error {
	var in pgstore.UserUpdate
	if err := decode(c, &in); err != nil {
		return err
	}
	p := principal(c)
	if c.Param("id") == p.UserID && ((in.Disabled != nil && *in.Disabled) || (in.Role != nil && *in.Role != p.Role)) {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "you may not disable yourself or change your own role; ask another admin"}
	}
	u, err := s.store.UpdateUser(c.Request().Context(), p.TenantID, actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, u)
}

func (s *Server) createAPIKey(c echo.Context) error {
	var in pgstore.NewAPIKey
	if err := decode(c, &in); err != nil {
		return err
	}
	p := principal(c)
	if in.UserID == "" {
		in.UserID = p.UserID
	}
	if in.UserID != p.UserID && p.Role != pgstore.RoleAdmin {
		return errForbidden("only admins may issue keys to other users")
	}
	k, err := s.store.CreateAPIKey(c.Request().Context(), p.TenantID, actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, k)
}

func (s *Server) listAPIKeys(c echo.Context) error {
	pg, err := page(c)
	if err != nil {
		return err
	}
	p := principal(c)
	f := pgstore.KeyFilter{UserID: c.QueryParam("userId"), Page: pg}
	if p.Role != pgstore.RoleAdmin {
		if f.UserID != "" && f.UserID != p.UserID {
			return errForbidden("only admins may list other users' keys")
		}
		f.UserID = p.UserID
	}
	ks, err := s.store.ListAPIKeys(c.Request().Context(), p.TenantID, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(ks, pg.Limit, func(k pgstore.APIKey) string { return k.ID }))
}

func (s *Server) revokeAPIKey(c echo.Context) error {
	p := principal(c)
	ctx := c.Request().Context()
	k, err := s.store.GetAPIKey(ctx, p.TenantID, c.Param("id"))
	if err != nil {
		return err
	}
	if k.UserID != p.UserID && p.Role != pgstore.RoleAdmin {
		return errForbidden("only admins may revoke other users' keys")
	}
	k, err = s.store.RevokeAPIKey(ctx, p.TenantID, actor(c), k.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, k)
}
