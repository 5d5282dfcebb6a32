"""Every route declares the permission it needs — in its signature, where a test can see it.

How to use it (JSON routes and pages alike)::

    from kesu.accounts.permissions import Needs, NeedsW, PageNeeds, PageNeedsW, PUBLIC, Permission

    # API route that reads (the user comes from the route's ReadSession):
    @router.get("/api/v1/things")
    def things(session: ReadSession, user: Annotated[User, Needs(Permission.complaint_read)]): ...

    # API route that opens its own ``with db.session() as session:`` (the user is resolved in
    # a short read-only session, so no write lock is held meanwhile):
    @router.post("/api/v1/things")
    def add(body: X, db: DatabaseDep, user: Annotated[User, NeedsW(Permission.admin)]): ...

    # Pages: PageNeeds (read) / PageNeedsW (the user comes from the route's WriteSession, so
    # it can be given to a service); both also remember the user for the layout.
    @router.get("/things")
    def page(request: Request, user: Annotated[User, PageNeeds(Permission.complaint_read)]): ...

    # Any signed-in user (one's own profile, the bell): Permission.signed_in.
    # A public route (login, the public form, /t/{token}, /healthz, docs) says so:
    @router.get("/submit", dependencies=[PUBLIC])

The dependency resolves the user (Bearer token or the signed-in session; 401 if neither) and
checks the role table (``kesu.accounts.roles.PERMISSIONS``) before the route's body, path or
form is looked at: a role without the permission gets 403, whatever else is wrong with the
request. Scope (which complaints a user may see) stays in ``complaints.access``: out of scope
is a 404. The ready-made aliases below (``AnyUserR``, ``AdminPageR`` …) are the common cases.

``tests/accounts/test_route_permissions.py`` walks ``app.routes``: a route that declares neither
a permission nor ``PUBLIC`` fails it, and each role × route gets the allow/deny the role table
says. ``declared(route)`` is what it reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from starlette.routing import BaseRoute

from kesu.accounts.models import User
from kesu.accounts.roles import Permission, Role, can
from kesu.errors import Forbidden
from kesu.web.deps import UserR, UserW, WriteSession
from kesu.web.i18n import gettext as _
from kesu.web.templating import NavUser

__all__ = [
    "PUBLIC",
    "AdminPageR",
    "AdminPageW",
    "AnyUserR",
    "AnyUserW",
    "Needs",
    "NeedsW",
    "PageNeeds",
    "PageNeedsW",
    "Permission",
    "check",
    "declared",
    "requires",
]

MARK = "__kesu_permission__"
PUBLIC_MARK = "public"


def check(user: User, permission: Permission) -> None:
    """403 unless ``user``'s role has ``permission`` (for checks that depend on the data)."""
    if not can(user.role, permission):
        raise Forbidden(
            _("您的角色无权执行此操作（需要权限 %(permission)s）")
            % {"permission": permission.value},
            code="forbidden",
        )


def remember(request: Request, user: User) -> User:
    """Keeps a plain copy of the user for the page layout (name, role, admin menu)."""
    request.state.nav = NavUser(user.id, user.label, user.role, user.role == Role.admin.value)
    return user


_cache: dict[tuple[Permission, bool, bool], Callable[..., User]] = {}


def requires(
    permission: Permission, *, write: bool = False, page: bool = False
) -> Callable[..., User]:
    """The dependency that resolves the user and checks ``permission`` (one per combination,
    so FastAPI resolves it once per request however often it is named)."""
    key = (permission, write, page)
    if key in _cache:
        return _cache[key]
    dep: Callable[..., User]
    if page and write:

        def dep(request: Request, user: UserW, session: WriteSession) -> User:
            remember(request, user)
            check(user, permission)
            return remember(request, session.get(User, user.id) or user)

    elif page:

        def dep(request: Request, user: UserR) -> User:
            remember(request, user)
            check(user, permission)
            return user

    elif write:

        def dep(user: UserW) -> User:
            check(user, permission)
            return user

    else:

        def dep(user: UserR) -> User:
            check(user, permission)
            return user

    dep.__name__ = f"requires_{permission.name}{'_page' if page else ''}{'_w' if write else ''}"
    setattr(dep, MARK, permission)
    _cache[key] = dep
    return dep


def Needs(permission: Permission) -> Any:
    return Depends(requires(permission))


def NeedsW(permission: Permission) -> Any:
    return Depends(requires(permission, write=True))


def PageNeeds(permission: Permission) -> Any:
    return Depends(requires(permission, page=True))


def PageNeedsW(permission: Permission) -> Any:
    return Depends(requires(permission, write=True, page=True))


def public() -> None:
    """Marks a route that anyone may call (it may still look at a signed-in user itself)."""


setattr(public, MARK, PUBLIC_MARK)
PUBLIC = Depends(public)

AnyUserR = Annotated[User, Needs(Permission.signed_in)]
AnyUserW = Annotated[User, NeedsW(Permission.signed_in)]
AdminPageR = Annotated[User, PageNeeds(Permission.admin)]
AdminPageW = Annotated[User, PageNeedsW(Permission.admin)]


def declared(route: BaseRoute) -> set[Permission | str]:
    """The permissions (or ``"public"``) a route's dependencies declare."""
    found: set[Permission | str] = set()
    dependant: Dependant | None = getattr(route, "dependant", None)
    if dependant is None:
        return found
    stack = [dependant]
    while stack:
        current = stack.pop()
        mark = getattr(current.call, MARK, None)
        if mark is not None:
            found.add(mark)
        stack.extend(current.dependencies)
    return found
