"""The web console under /ui/: server-rendered pages over the API's servicers (see bridge.py), htmx on top.

Sign-in exchanges a crscan API token for a session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS, expiring
with the token). Every form carries the session's CSRF token; a POST without it is refused before anything runs.
Reading works without JavaScript; htmx only polls a running scan's status and swaps the filtered findings table.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl, quote, unquote, urlencode

import grpc
import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles
from yandex.cloud.containerregistry.v1 import (
    image_pb2,
    image_service_pb2,
    registry_pb2,
    registry_service_pb2,
    repository_service_pb2,
    scan_policy_pb2,
    scan_policy_service_pb2,
    scanner_pb2,
    scanner_service_pb2,
)

from crscan.api.auth import current_caller
from crscan.api.errors import ApiError
from crscan.api.rest import HTTP_STATUS
from crscan.auth import Authenticator, IssuedToken, TokenService
from crscan.console import views
from crscan.console.bridge import ADMIN_PROBE, EDIT_PROBE, ConsoleApi, utcnow
from crscan.console.interface import Session, SessionStore, SignInRefused
from crscan.console.sessions import MAX_SESSION, SqlSessionStore, new_secret
from crscan.store import Store

log = logging.getLogger(__name__)

PREFIX = "/ui"
SESSION_COOKIE = "crscan_session"
SIGN_IN_COOKIE = "crscan_signin"  # double-submit CSRF value for the sign-in form, before any session exists
ENDED_COOKIE = "crscan_ended"  # why the last session ended, shown once on the sign-in page
MAX_FORM_BYTES = 64 * 1024
LIST_PAGE_SIZE = 50
DEFAULT_FOLDER = "default"  # the folder `crscan registry add` uses unless told otherwise
SECURITY_HEADERS = {
    # Only this server's own script and stylesheet; no inline code, no framing.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

Form = Mapping[str, str]
# A page: (request, session) for reads, (request, session, form) for writes; returns a Page or a Response.
Handler = Callable[..., "Page | Response"]
T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    """What a handler asks for: a template with its variables, or a redirect."""

    template: str = ""
    context: dict[str, Any] | None = None
    status: int = 200
    redirect: str = ""


class Console:
    def __init__(self, api: ConsoleApi, tokens: TokenService | None = None, feed_db_path: Path | None = None,
                 sessions: SessionStore | None = None):
        self.api = api
        self.tokens = tokens  # crscan.auth.TokenService, None when the server runs without auth
        self.feed_db_path = feed_db_path
        self.sessions = sessions or SqlSessionStore(api.store)
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("crscan.console", "templates"),
            autoescape=True,  # every value is escaped: tag, package and repository names come from registries
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.globals.update(prefix=PREFIX, severities=views.SEVERITIES)
        self.templates.filters.update(views.FILTERS)

    # ---- plumbing -------------------------------------------------------------------------------------

    def app(self) -> Router:
        static = StaticFiles(packages=[("crscan.console", "static")])
        pages: list[tuple[str, Handler, bool]] = [  # path, handler, is a write (POST with CSRF)
            ("/", self.overview, False),
            ("/registries", self.registries, False),
            ("/registries/{registry_id}", self.repositories, False),
            ("/registries/{registry_id}/policy", self.policy, False),
            ("/registries/{registry_id}/policy/edit", self.policy_edit, False),
            ("/repositories/{repository_id}", self.images, False),
            ("/images/{image_id}", self.image, False),
            ("/images/{image_id}/status", self.image_status, False),
            ("/images/{image_id}/export/{format}", self.export, False),
            ("/tokens", self.token_list, False),
            ("/signout", self.sign_out, True),
            ("/images/{image_id}/scan", self.scan_now, True),
            ("/registries/{registry_id}/policy", self.policy_save, True),
            ("/tokens", self.token_create, True),
            ("/tokens/{token_id}/revoke", self.token_revoke, True),
        ]
        routes = [
            Route("/signin", self._sign_in_endpoint, methods=["GET", "POST"]),
            Mount("/static", app=static),
            *(Route(path, self._endpoint(handler, write), methods=["POST" if write else "GET"])
              for path, handler, write in pages),
        ]
        return Router(routes=routes)

    def _endpoint(self, handler: Handler, write: bool) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            form = await _read_form(request) if write else {}
            return await run_in_threadpool(self._serve, request, form, handler, write)

        return endpoint

    def _serve(self, request: Request, form: Form, handler: Handler, write: bool) -> Response:
        session = self.sessions.get(request.cookies.get(SESSION_COOKIE, ""), utcnow())
        if session is None:
            if write:
                return self._render(request, None, Page("error.html", {"message": "Sign in first."}, 401))
            return RedirectResponse(f"{PREFIX}/signin?next={quote(_here(request))}", status_code=303)
        if write and not hmac.compare_digest(form.get("csrf", ""), session.csrf):
            log.info("refused a console POST to %s without a valid CSRF token", request.url.path)
            message = "This form is stale or did not come from this console (missing CSRF token); reload the page."
            return self._render(request, session, Page("error.html", {"message": message}, 403))
        try:
            page = handler(request, session, form) if write else handler(request, session)
        except ApiError as e:
            if e.code == grpc.StatusCode.UNAUTHENTICATED:
                return self._signed_out(request, session, e.message)
            return self._render(request, session, Page("error.html", {"message": e.message}, HTTP_STATUS[e.code]))
        return self._render(request, session, page)

    def _render(self, request: Request, session: Session | None, page: Page | Response) -> Response:
        if isinstance(page, Response):
            response = page
        elif page.redirect:
            response = RedirectResponse(page.redirect, status_code=303)
        else:
            context = {"session": session, "path": request.url.path, "htmx": "hx-request" in request.headers,
                       **(page.context or {})}
            html = self.templates.get_template(page.template).render(context)
            response = HTMLResponse(html, status_code=page.status)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def _signed_out(self, request: Request, session: Session, reason: str) -> Response:
        self.sessions.remove(session.id)
        response = RedirectResponse(f"{PREFIX}/signin?next={quote(_here(request))}", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        # In a cookie, not the URL: a link with a made-up "reason" must not put words on the sign-in page.
        response.set_cookie(ENDED_COOKIE, quote(reason), max_age=60, path=PREFIX, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response

    # ---- sign-in / sign-out ---------------------------------------------------------------------------

    async def _sign_in_endpoint(self, request: Request) -> Response:
        form = await _read_form(request) if request.method == "POST" else {}
        return await run_in_threadpool(self._sign_in, request, form)

    def _sign_in(self, request: Request, form: Form) -> Response:
        next_page = _safe_next(request.query_params.get("next", ""))
        ended = unquote(request.cookies.get(ENDED_COOKIE, ""))
        error, status = (f"Your session ended: {ended}" if ended else ""), 200
        if request.method == "POST":
            cookie = request.cookies.get(SIGN_IN_COOKIE, "")
            if not cookie or not hmac.compare_digest(form.get("csrf", ""), cookie):
                error, status = "The sign-in form expired or did not come from this console; try again.", 403
            else:
                try:
                    session = self.sign_in(form.get("token", "").strip())
                except SignInRefused as e:
                    error, status = str(e), 401
                else:
                    signed_in = RedirectResponse(next_page, status_code=303)
                    self._set_session_cookie(request, signed_in, session)
                    signed_in.delete_cookie(SIGN_IN_COOKIE, path=PREFIX)
                    return self._render(request, session, signed_in)
        csrf = new_secret()
        page = Page("signin.html", {"csrf": csrf, "error": error, "next": next_page,
                                    "auth_disabled": self.tokens is None}, status)
        response = self._render(request, None, page)
        response.delete_cookie(ENDED_COOKIE, path=PREFIX)
        response.set_cookie(SIGN_IN_COOKIE, csrf, path=PREFIX, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response

    def sign_in(self, token: str) -> Session:
        """A session for `token` if the authorizer accepts it; what it may do is asked of the authorizer too."""
        try:
            caller = self.api.read(token, "GetSession", current_caller)
        except ApiError as e:
            raise SignInRefused(e.message) from None
        now = utcnow()
        expires_at = now + MAX_SESSION
        if self.tokens is not None and caller.token_id:
            found = self.tokens.repository.find(caller.token_id)
            if found is not None and found[0].expires_at is not None:
                expires_at = min(expires_at, found[0].expires_at)
        session = Session(
            id=new_secret(), token=token, csrf=new_secret(), subject=caller.subject, registries=caller.registries,
            can_edit=self.api.allows(token, EDIT_PROBE),
            can_admin=self.tokens is not None and self.api.allows(token, ADMIN_PROBE),
            expires_at=expires_at, created_at=now,
        )
        self.sessions.add(session)
        return session

    def _set_session_cookie(self, request: Request, response: Response, session: Session) -> None:
        max_age = max(1, int((session.expires_at - utcnow()).total_seconds()))
        response.set_cookie(SESSION_COOKIE, session.id, max_age=max_age, path=PREFIX, httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")

    def sign_out(self, request: Request, session: Session, form: Form) -> Response:
        self.sessions.remove(session.id)
        response = RedirectResponse(f"{PREFIX}/signin", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    # ---- pages ----------------------------------------------------------------------------------------

    def overview(self, request: Request, session: Session) -> Page:
        folder = request.query_params.get("folder", DEFAULT_FOLDER)
        summary = views.overview(self.api, session.token, folder, self.feed_db_path)
        return Page("overview.html", {"folder": folder, "summary": summary})

    def registries(self, request: Request, session: Session) -> Page:
        folder = request.query_params.get("folder", DEFAULT_FOLDER)
        name = request.query_params.get("name", "").strip()
        page_token = request.query_params.get("page_token", "")
        response = self.api.call(session.token, "RegistryService", "List", registry_service_pb2.ListRegistriesRequest(
            folder_id=folder, page_size=LIST_PAGE_SIZE, page_token=page_token,
            filter=_name_filter(name),
        ))
        return Page("registries.html", {
            "folder": folder, "name": name, "registries": list(response.registries),
            "next_page": _next_link(request, response.next_page_token),
        })

    def repositories(self, request: Request, session: Session) -> Page:
        registry_id = request.path_params["registry_id"]
        registry = self._registry(session, registry_id)
        name = request.query_params.get("name", "").strip()
        order = _order(request, ("name",), "name")
        response = self.api.call(session.token, "RepositoryService", "List",
                                 repository_service_pb2.ListRepositoriesRequest(
                                     registry_id=registry_id, page_size=LIST_PAGE_SIZE,
                                     page_token=request.query_params.get("page_token", ""),
                                     filter=_name_filter(f"{registry_id}/{name}" if name else ""), order_by=order,
                                 ))
        return Page("repositories.html", {
            "registry": registry, "name": name, "order": order, "repositories": list(response.repositories),
            "next_page": _next_link(request, response.next_page_token),
        })

    def images(self, request: Request, session: Session) -> Page:
        repository = self.api.call(session.token, "RepositoryService", "Get",
                                   repository_service_pb2.GetRepositoryRequest(
                                       repository_id=request.path_params["repository_id"]))
        registry = self._registry(session, repository.name.partition("/")[0])
        order = _order(request, ("createdAt", "digest"), "createdAt desc")
        response = self.api.call(session.token, "ImageService", "List", image_service_pb2.ListImagesRequest(
            repository_name=repository.name, page_size=LIST_PAGE_SIZE,
            page_token=request.query_params.get("page_token", ""), order_by=order,
        ))
        rows = [views.ImageRow(image, self._last_scan(session, image.id)) for image in response.images]
        return Page("images.html", {
            "registry": registry, "repository": repository, "images": rows, "order": order,
            "next_page": _next_link(request, response.next_page_token),
        })

    def image(self, request: Request, session: Session) -> Page:
        image_id = request.path_params["image_id"]
        image = self._image(session, image_id)
        detail = views.image_detail(self.api, session.token, image, views.FindingQuery.parse(request.query_params))
        context = {"image": image, "detail": detail, "registry": self._registry(session, image.name.partition("/")[0])}
        if "hx-request" in request.headers and request.headers.get("hx-target") == "findings":
            return Page("_findings.html", context)
        return Page("image.html", context)

    def image_status(self, request: Request, session: Session) -> Page:
        image_id = request.path_params["image_id"]
        return Page("_scan_status.html", {"image_id": image_id, "scan": self._last_scan(session, image_id)})

    def scan_now(self, request: Request, session: Session, form: Form) -> Page:
        image_id = request.path_params["image_id"]
        self.api.call(session.token, "ScannerService", "Scan", scanner_service_pb2.ScanRequest(image_id=image_id))
        if "hx-request" in request.headers:
            return Page("_scan_status.html", {"image_id": image_id, "scan": self._last_scan(session, image_id)})
        return Page(redirect=f"{PREFIX}/images/{quote(image_id)}")

    def export(self, request: Request, session: Session) -> Response:
        image_id, name = request.path_params["image_id"], request.path_params["format"]
        image = self._image(session, image_id)
        body, media_type, extension = views.export(self.api, session.token, image, name,
                                                   request.query_params.get("scan", ""))
        filename = f"{image.name.rsplit('/', 1)[-1]}-{image.digest.removeprefix('sha256:')[:12]}.{extension}"
        return Response(body, media_type=media_type,
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    def policy(self, request: Request, session: Session) -> Page:
        registry_id = request.path_params["registry_id"]
        registry = self._registry(session, registry_id)
        return Page("policy.html", {"registry": registry, "policy": self._policy(session, registry_id)})

    def policy_edit(self, request: Request, session: Session) -> Page:
        registry_id = request.path_params["registry_id"]
        registry = self._registry(session, registry_id)
        policy = self._policy(session, registry_id)
        return Page("policy_edit.html", {"registry": registry, "policy": policy, "error": "",
                                         "form": views.policy_form(policy)})

    def policy_save(self, request: Request, session: Session, form: Form) -> Page:
        registry_id = request.path_params["registry_id"]
        registry = self._registry(session, registry_id)
        policy = self._policy(session, registry_id)
        try:
            rules = views.parse_rules(form.get("rules", ""))
            if policy is None:
                self.api.call(session.token, "ScanPolicyService", "Create",
                              scan_policy_service_pb2.CreateScanPolicyRequest(
                                  registry_id=registry_id, name=form.get("name", ""),
                                  description=form.get("description", ""), rules=rules))
            else:
                self.api.call(session.token, "ScanPolicyService", "Update",
                              scan_policy_service_pb2.UpdateScanPolicyRequest(
                                  scan_policy_id=policy.id, name=form.get("name", ""),
                                  description=form.get("description", ""), rules=rules,
                                  update_mask={"paths": ["name", "description", "rules"]}))
        except (ApiError, views.FormError) as e:
            if isinstance(e, ApiError) and e.code != grpc.StatusCode.INVALID_ARGUMENT:
                raise
            return Page("policy_edit.html", {"registry": registry, "policy": policy, "form": dict(form),
                                             "error": str(e.message if isinstance(e, ApiError) else e)}, 400)
        return Page(redirect=f"{PREFIX}/registries/{quote(registry_id)}/policy")

    def token_list(self, request: Request, session: Session) -> Page:
        records = self._tokens(session, lambda tokens: tokens.list())
        return Page("tokens.html", {"tokens": views.token_rows(records, utcnow()), "issued": None, "error": ""})

    def token_create(self, request: Request, session: Session, form: Form) -> Page:
        from crscan.auth import AuthError, Role, parse_duration

        def create(tokens: TokenService) -> IssuedToken:
            role = Role.parse(form.get("role", ""))
            registries = [r for r in form.get("registries", "").replace(",", " ").split() if r] or None
            expires = form.get("expires", "").strip()
            return tokens.create(role, registries=registries, description=form.get("description", ""),
                                      expires_in=parse_duration(expires) if expires else None)

        try:
            issued, error, status = self._tokens(session, create), "", 200
        except AuthError as e:
            issued, error, status = None, str(e), 400
        records = self._tokens(session, lambda tokens: tokens.list())
        return Page("tokens.html", {"tokens": views.token_rows(records, utcnow()), "issued": issued,
                                    "error": error}, status)

    def token_revoke(self, request: Request, session: Session, form: Form) -> Page:
        token_id = request.path_params["token_id"]
        self._tokens(session, lambda tokens: tokens.revoke(token_id))
        return Page(redirect=f"{PREFIX}/tokens")

    # ---- helpers --------------------------------------------------------------------------------------

    def _tokens(self, session: Session, action: Callable[[TokenService], T]) -> T:
        tokens = self.tokens
        if tokens is None:
            raise ApiError(grpc.StatusCode.FAILED_PRECONDITION, "this server runs without auth: there are no tokens")
        return self.api.read(session.token, "ManageTokens", lambda: action(tokens))

    def _image(self, session: Session, image_id: str) -> image_pb2.Image:
        request = image_service_pb2.GetImageRequest(image_id=image_id)
        return cast(image_pb2.Image, self.api.call(session.token, "ImageService", "Get", request))

    def _registry(self, session: Session, registry_id: str) -> registry_pb2.Registry:
        request = registry_service_pb2.GetRegistryRequest(registry_id=registry_id)
        return cast(registry_pb2.Registry, self.api.call(session.token, "RegistryService", "Get", request))

    def _policy(self, session: Session, registry_id: str) -> scan_policy_pb2.ScanPolicy | None:
        try:
            request = scan_policy_service_pb2.GetScanPolicyByRegistryRequest(registry_id=registry_id)
            return cast(scan_policy_pb2.ScanPolicy,
                        self.api.call(session.token, "ScanPolicyService", "GetByRegistry", request))
        except ApiError as e:
            if e.code == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    def _last_scan(self, session: Session, image_id: str) -> scanner_pb2.ScanResult | None:
        """The image's newest scan, running ones included (GetLast shows only finished scans)."""
        response = self.api.call(session.token, "ScannerService", "List",
                                 scanner_service_pb2.ListScanResultsRequest(image_id=image_id, page_size=1))
        return response.scan_results[0] if response.scan_results else None


def console_app(
    servicers: Sequence[object], authenticator: Authenticator, store: Store, feed_db_path: Path | None = None
) -> Router:
    """The ASGI app to mount at /ui, calling the same servicer instances and authenticator as the API."""
    tokens = getattr(authenticator, "tokens", None)
    return Console(ConsoleApi(servicers, authenticator, store), tokens, feed_db_path).app()


async def _read_form(request: Request) -> dict[str, str]:
    """An urlencoded form body (the only kind the console's forms send), bounded in size."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _safe_next(value: str) -> str:
    """Only a path inside the console: an open redirect after sign-in would be a phishing aid."""
    if value.startswith(PREFIX + "/") and not value.startswith("//") and "\\" not in value:
        return value
    return PREFIX + "/"


def _name_filter(name: str) -> str:
    return 'name="{}"'.format(name.replace("\\", "\\\\").replace('"', '\\"')) if name else ""


def _order(request: Request, fields: tuple[str, ...], default: str) -> str:
    value = request.query_params.get("order", default)
    field, _, direction = value.partition(" ")
    return value if field in fields and direction in ("", "asc", "desc") else default


def _next_link(request: Request, token: str) -> str:
    if not token:
        return ""
    params = {k: v for k, v in request.query_params.items() if k != "page_token"} | {"page_token": token}
    return f"{request.url.path}?{urlencode(params)}"


__all__ = ["Console", "console_app"]
