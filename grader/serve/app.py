"""The HTTP API and the server-rendered pages (FastAPI).

The API is documented from its own OpenAPI schema (``/openapi.json``): ``/api`` renders
it on the server (every route, its parameters, who may call it, its answers and a
``curl`` line; nothing loaded from elsewhere, so it reads on an offline course server),
and ``/docs`` is FastAPI's Swagger UI (its script comes from a CDN).

API (a token in ``Authorization: Bearer TOKEN``; JSON answers)::

    POST /api/submissions              multipart ``file``: a notebook, .py module or zip;
                                       202 with the job's id and place in the queue
    GET  /api/jobs                     your jobs (the instructor: everyone's)
    GET  /api/jobs/{id}                queued (with its position), running, or done;
                                       until done, ``Retry-After``: when to ask again
    GET  /api/jobs/{id}/report.{html,md,json}   when done: a student's public view
    GET  /api/jobs/{id}/file           the submitted bytes, as an attachment
    GET  /api/gradebook.csv            instructor: each student's latest result
    GET  /api/class                    instructor: counts and the sandbox tier

Pages (signed in with a token, kept in an HttpOnly, SameSite=Strict cookie; every
form carries a CSRF field, an HMAC of the session under the service's secret):
``/`` sign in, ``/student`` upload and your jobs, ``/jobs/{id}`` progress and then
the report, ``/instructor`` the submissions, ``/instructor/class`` the class page.
They work without JavaScript (a meta refresh while something is pending) and, with
it, a small script asks the API instead and reloads when a job is done.

Whose is what: a student reads only their own jobs, reports and files; anything
else answers 404, the same as a job that does not exist, so ids cannot be probed.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import math
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field, replace
from pathlib import Path as FilePath
from typing import Annotated, Any

import jinja2
from fastapi import Depends, FastAPI, File, Form, HTTPException, Path, Request, Security, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from grader.exports.gradebook import Row, gradebook_table
from grader.report.view import Audience
from grader.results import GradeResult
from grader.rubric import Rubric
from grader.self_check import exit_status
from grader.serve.apidoc import INSTRUCTOR_ROLE, api_reference, code_spans
from grader.serve.runner import Runner
from grader.serve.store import Job, RateLimitedError, Store, StoreError, token_hash
from grader.serve.tokens import Identity, authenticate
from grader.serve.uploads import UploadError, UploadLimits, check_upload

TEMPLATES = FilePath(__file__).parent / "templates"
SESSION_COOKIE = "grader_session"
LOGIN_COOKIE = "grader_login"
FORM_OVERHEAD = 64 << 10  # a multipart body's headers and boundaries besides the file
DRAIN = 4  # a body declared up to this many times the limit is read (and dropped) first
# Retry-After while a job waits: half its expected wait (its place in the queue over the
# grading threads, times the median grading time of the latest results), so a client
# asks a few times per job, not once a second; bounded, so a wrong guess costs little
RETRY_QUEUED_MAX = 30
RETRY_RUNNING_MAX = 5
RETRY_IDLE = 10  # the class page with nothing queued or running: only a new upload changes it
GUESS_SECONDS = 2.0  # the grading time assumed before any result is recorded
REPORTS = {
    "html": "text/html; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
}


@dataclass
class ServeConfig:
    rubric: Rubric
    sandbox: str  # the tier line, as grader grade prints it
    tier: str
    per_hour: int | None = 30
    limits: UploadLimits = field(default_factory=UploadLimits)
    refresh_seconds: int = 3
    secure_cookies: bool = False  # True behind a TLS proxy (README: Deployment)


# ---------------------------------------------------------------------------
# A body larger than an upload may be is refused before it is read whole


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets 413 (by its
    Content-Length at once, else as soon as the streamed bytes pass it)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        message = (
            f"the request is larger than this service accepts ({self.limit / (1 << 20):.1f} MB); "
            "clear the notebook's outputs and try again."
        )
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            if declared.isdigit() and int(declared) <= DRAIN * self.limit:
                # read and drop a body not much too large before answering: a reverse
                # proxy still sending it when the connection closes answers 502, not this
                while (event := await receive())["type"] == "http.request" and event.get(
                    "more_body", False
                ):
                    pass
            await JSONResponse({"detail": message}, status_code=413)(scope, receive, send)
            return
        seen = 0
        refused = False  # the 413 is sent: the application's own answer is dropped
        started = False

        async def refuse() -> None:
            nonlocal refused
            refused = True
            if not started:
                await JSONResponse({"detail": message}, status_code=413)(scope, receive, send)

        async def counted() -> Any:
            nonlocal seen
            if refused:
                return {"type": "http.disconnect"}
            event = await receive()
            if event["type"] == "http.request":
                seen += len(event.get("body", b""))
                if seen > self.limit:
                    # answer now and tell the application the client left: whatever
                    # catches the disconnect, nothing of the body is parsed further
                    await refuse()
                    return {"type": "http.disconnect"}
            return event

        async def watched(event: Any) -> None:
            nonlocal started
            if refused:
                return
            started = started or event["type"] == "http.response.start"
            await send(event)

        try:
            await self.app(scope, counted, watched)
        except Exception:
            if not refused:
                raise


def public_checks_of(result: GradeResult) -> dict[str, Any]:
    """Whether the public checks passed, by the student kit's own rule (its exit status)
    applied to the result's public checks; the ids of those that did not pass."""
    public = replace(result, checks=tuple(c for c in result.checks if c.visibility == "public"))
    return {
        "public_checks_passed": exit_status(public) == 0,
        "public_checks_not_passed": [c.check_id for c in public.checks if c.status != "passed"],
    }


# ---------------------------------------------------------------------------
# Who is asking (FastAPI dependencies; the store is the application's)


# The one reading of ``Authorization: Bearer``; declared as a security scheme, so the
# OpenAPI schema (and the /api page made from it) says which routes need a token.
BEARER = HTTPBearer(
    auto_error=False,  # no header: the pages' session cookie may sign in instead
    description="A token from `grader serve tokens`: `Authorization: Bearer TOKEN` "
    "(a student's, or the instructor's where a route says so).",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]


def caller(request: Request, credentials: Credentials) -> Identity:
    """The API's caller: a bearer token, else the session cookie."""
    store: Store = request.app.state.store
    token = credentials.credentials if credentials else request.cookies.get(SESSION_COOKIE)
    who = authenticate(store, token)
    if who is None:
        raise HTTPException(
            401,
            "a valid token is needed (Authorization: Bearer TOKEN)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return who


Caller = Annotated[Identity, Depends(caller)]


# the role "instructor" in the route's OpenAPI security requirement (OpenAPI 3.1 lets an
# http scheme's requirement name roles)
def instructor(who: Annotated[Identity, Security(caller, scopes=[INSTRUCTOR_ROLE])]) -> Identity:
    if not who.instructor:
        raise HTTPException(403, "only the instructor may see this")
    return who


Instructor = Annotated[Identity, Depends(instructor)]


# ---------------------------------------------------------------------------
# What the API answers besides success, for its schema (the body is always {"detail"})


class ErrorDetail(BaseModel):
    detail: str  # one sentence saying what is wrong


ERRORS = {
    400: "a malformed upload (empty; in a zip: a path that climbs out, an absolute path, "
    "a symbolic link, a nested archive, no notebook); `detail` says what is wrong",
    401: "no valid token: `Authorization: Bearer TOKEN`",
    403: "this token may not do this (a route for the instructor only; the instructor's "
    "token does not submit)",
    404: "no such job of yours (another student's job answers the same)",
    409: "the job is not done yet; its report comes when it is",
    413: "larger than this service accepts (the upload, or what a zip unpacks to)",
    415: "not a notebook (.ipynb), a .py module or a .zip",
    422: "the request lacks what this route takes (an upload goes in the multipart field `file`)",
    429: "too many submissions this hour; `Retry-After` says in how many seconds to try again",
    507: "the service's disk is full; nothing was stored",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"description": ERRORS[code], "model": ErrorDetail} for code in codes}


JobId = Annotated[str, Path(description="the job's id, as the submission answered it")]


# ---------------------------------------------------------------------------
# The application


def create_app(store: Store, config: ServeConfig, runner: Runner | None = None) -> FastAPI:
    """The service over ``store``; ``runner`` grades (None: jobs only queue, e.g. in tests
    of the API alone). The runner is started and stopped with the application, and the
    store closed when it stops."""
    secret = store.meta("csrf_secret")
    if secret is None:  # kept in the store, so forms stay valid across restarts
        secret = secrets.token_hex(32)
        store.set_meta("csrf_secret", secret)
    key = bytes.fromhex(secret)
    pages = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    pages.filters["when"] = lambda t: time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))
    pages.filters["code"] = code_spans

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            if runner is not None:  # a start that fails midway is stopped and closed too
                runner.start()
            yield
        finally:
            # a clean stop: no more jobs taken, then the store closed (its heartbeat row
            # removed, a job still grading requeued at once, the connections closed, so
            # SQLite checkpoints its write-ahead log into service.db)
            if runner is not None:
                runner.stop(wait=1.0)
            store.close()

    app = FastAPI(
        title="mlp-grader service",
        summary="Submit a notebook, .py module or zip; follow the job; read the report.",
        lifespan=lifespan,
    )
    app.state.store = store
    app.add_middleware(BodyLimit, limit=config.limits.max_bytes + FORM_OVERHEAD)

    # -- who is asking ----------------------------------------------------------------

    def csrf_of(session: str) -> str:
        return hmac.new(key, b"csrf:" + token_hash(session).encode(), hashlib.sha256).hexdigest()

    def login_csrf(nonce: str) -> str:
        return hmac.new(key, b"login:" + nonce.encode(), hashlib.sha256).hexdigest()

    def page_caller(request: Request) -> Identity | None:
        return authenticate(store, request.cookies.get(SESSION_COOKIE))

    def check_form(request: Request, csrf: str) -> Identity:
        """A form post: signed in by cookie, and carrying that session's CSRF field."""
        session = request.cookies.get(SESSION_COOKIE)
        who = authenticate(store, session)
        if who is None or session is None:
            raise HTTPException(401, "sign in first")
        if not hmac.compare_digest(csrf.encode(), csrf_of(session).encode()):
            raise HTTPException(
                403, "this form is stale or was not sent by this site; reload the page"
            )
        return who

    def own_job(job_id: str, who: Identity) -> Job:
        job = store.job(job_id) if len(job_id) <= 64 else None
        if job is None or not (who.instructor or job.student == who.name):
            raise HTTPException(404, f"no job {job_id[:64]} of yours")
        return job

    def status_of(job: Job, public_checks: bool = False) -> dict[str, Any]:
        """The job's status; with ``public_checks``, when done, whether every public check
        passed (what a CI job fails on; read from the result, so only for one job)."""
        position = None
        if job.state == "queued":
            # from the queue view (read at most a second ago, once for every poller); a
            # job queued since by another server is placed afresh; one claimed since it
            # was read (the runner is that quick) is read again, so "queued" always comes
            # with its position
            position = store.queue_view().positions.get(job.id) or store.position(job.id)
            if position is None:
                job = store.job(job.id) or job
        base = f"/api/jobs/{job.id}"
        out: dict[str, Any] = {
            "job": job.id,
            "student": job.student,
            "state": job.state,
            "file": job.filename,
            "submitted": job.created,
            "attempts": job.attempts,
            "status_url": base,
            "page_url": f"/jobs/{job.id}",
        }
        if job.state == "queued":
            out["position"] = position
        if job.state == "done":
            out.update(
                outcome=job.outcome,
                points=job.points,
                max_points=config.rubric.max_points,
                seconds=job.seconds,
                reports={f: f"{base}/report.{f}" for f in REPORTS},
            )
            text = store.result(job.id) if public_checks else None
            if text is not None:
                out.update(public_checks_of(GradeResult.from_json(text)))
        return out

    def retry_after(job: Job, position: int | None) -> int | None:
        """Seconds a client polling ``job`` should wait before asking again (RETRY_*);
        None once it is done. Not in the status's body: a page's script reloads when
        the body changes, and this changes every second while the job runs."""
        if job.state == "done":
            return None
        seconds = store.queue_view().grading_seconds or GUESS_SECONDS
        workers = max(1, runner.workers) if runner is not None else 1
        if job.state == "queued":
            wait = math.ceil((position or 1) / workers) * seconds
            return min(RETRY_QUEUED_MAX, max(1, round(wait / 2)))
        left = seconds - (time.time() - (job.started or time.time()))
        return min(RETRY_RUNNING_MAX, max(1, round(left)))

    def answer_status(job: Job, response: Response, public_checks: bool = False) -> dict[str, Any]:
        status = status_of(job, public_checks)
        wait = retry_after(job, status.get("position"))
        if wait is not None:
            response.headers["Retry-After"] = str(wait)
        return status

    def result_for(job: Job, who: Identity) -> GradeResult:
        text = store.result(job.id)
        if text is None:
            raise HTTPException(
                409, f"job {job.id} is {job.state}; its report comes when it is done"
            )
        result = GradeResult.from_json(text)
        return result if who.instructor else result.public_view()

    def render(result: GradeResult, fmt: str, who: Identity) -> str:
        from grader.report import render_html, render_markdown

        audience: Audience = "instructor" if who.instructor else "student"
        if fmt == "html":
            return str(render_html(result, audience))
        if fmt == "md":
            return str(render_markdown(result, audience))
        return result.to_json()

    def submit(who: Identity, upload: UploadFile) -> Job:
        if who.instructor:
            raise HTTPException(403, "the instructor's token does not submit; use a student's")
        content = upload.file.read(config.limits.max_bytes + 1)
        try:
            checked = check_upload(upload.filename, content, config.limits)
            job_id = store.accept(
                who.name, checked.filename, checked.kind, checked.content, config.per_hour
            )
        except UploadError as error:
            raise HTTPException(error.status, str(error)) from None
        except RateLimitedError as error:
            raise HTTPException(
                429, str(error), headers={"Retry-After": str(int(error.retry_after))}
            ) from None
        except StoreError as error:
            raise HTTPException(507, str(error)) from None
        if runner is not None:
            runner.wake()
        job = store.job(job_id)
        assert job is not None
        return job

    # -- API --------------------------------------------------------------------------

    @app.post(
        "/api/submissions",
        status_code=202,
        responses={
            202: {"description": "accepted: the job's id, its state and place in the queue"},
            **errors(400, 401, 403, 413, 415, 422, 429, 507),
        },
    )
    def api_submit(
        file: Annotated[UploadFile, File()], who: Caller, response: Response
    ) -> dict[str, Any]:
        """Submit a notebook, .py module or zip (multipart field ``file``); ``Retry-After``
        says when to ask about the job first."""
        return answer_status(submit(who, file), response)

    @app.get("/api/jobs", responses=errors(401))
    def api_jobs(who: Caller, response: Response) -> list[dict[str, Any]]:
        """Your jobs, newest first (the instructor's token: everyone's); while one is
        queued or running, ``Retry-After``: the soonest of theirs."""
        jobs = store.jobs(None if who.instructor else who.name)
        statuses = [status_of(j) for j in jobs]
        waits = [retry_after(j, s.get("position")) for j, s in zip(jobs, statuses, strict=True)]
        if any(w is not None for w in waits):
            response.headers["Retry-After"] = str(min(w for w in waits if w is not None))
        return statuses

    @app.get("/api/jobs/{job_id}", responses=errors(401, 404, 422))
    def api_job(job_id: JobId, who: Caller, response: Response) -> dict[str, Any]:
        """queued (with ``position``), running, or done; when done, the outcome, points,
        report links, and ``public_checks_passed`` (every public check passed: what the
        student kit's check exits 0 on) with ``public_checks_not_passed`` (their ids).
        While queued or running, the header ``Retry-After``: the seconds to wait before
        asking again, from the job's place in the queue and the recent grading times (1
        to 30 while queued, 1 to 5 while running); none when done."""
        return answer_status(own_job(job_id, who), response, public_checks=True)

    @app.get(
        "/api/jobs/{job_id}/report.{fmt}",
        response_class=Response,
        responses={
            200: {"description": "the report", "content": {m: {} for m in REPORTS.values()}},
            **errors(401, 404, 409, 422),
        },
    )
    def api_report(
        job_id: JobId,
        fmt: Annotated[str, Path(description="html, md or json", examples=["md"])],
        who: Caller,
    ) -> Response:
        """The report of a done job: ``html``, ``md`` or ``json`` (a student: the public
        view; 409 while the job is not done)."""
        if fmt not in REPORTS:
            raise HTTPException(404, f"no report format {fmt[:20]!r}: html, md or json")
        job = own_job(job_id, who)
        return Response(render(result_for(job, who), fmt, who), media_type=REPORTS[fmt])

    @app.get(
        "/api/jobs/{job_id}/file",
        response_class=Response,
        responses={
            200: {"description": "the bytes", "content": {"application/octet-stream": {}}},
            **errors(401, 404, 422),
        },
    )
    def api_file(job_id: JobId, who: Caller) -> Response:
        """The submitted bytes, as an attachment."""
        job = own_job(job_id, who)
        return Response(
            store.blob(job.sha256),
            media_type="application/octet-stream",  # never rendered by the browser
            headers={
                "Content-Disposition": f'attachment; filename="{job.student}.{job.kind}"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    def latest() -> list[tuple[str, GradeResult]]:
        return [
            (job_id, GradeResult.from_json(text))
            for job_id, text in store.latest_results().values()
        ]

    @app.get(
        "/api/gradebook.csv",
        response_class=Response,
        responses={
            200: {"description": "the gradebook", "content": {"text/csv": {}}},
            **errors(401, 403),
        },
    )
    def api_gradebook(_: Instructor) -> Response:
        """Instructor: the gradebook CSV, each student's latest result."""
        import csv
        import io

        rows = [
            Row.of(result, student)
            for student, (_, text) in store.latest_results().items()
            for result in [GradeResult.from_json(text)]
        ]
        header, table = gradebook_table(rows, config.rubric)
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(table)
        return Response(
            buffer.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="gradebook.csv"'},
        )

    @app.get("/api/class", responses=errors(401, 403))
    def api_class(_: Instructor, response: Response) -> dict[str, Any]:
        """Instructor: the assignment, the sandbox tier, and counts of jobs and students.
        Retry-After: a running job's wait while any job waits or runs, else RETRY_IDLE."""
        jobs = store.counts()
        seconds = store.queue_view().grading_seconds or GUESS_SECONDS
        busy = jobs["queued"] + jobs["running"] > 0
        wait = min(RETRY_RUNNING_MAX, max(1, round(seconds))) if busy else RETRY_IDLE
        response.headers["Retry-After"] = str(wait)
        return {
            "assignment": config.rubric.assignment.title,
            "sandbox": config.sandbox,
            "tier": config.tier,
            "jobs": jobs,
            "students": len(store.students()),
            "graded": store.graded_count(),
        }

    # -- pages ------------------------------------------------------------------------

    def page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = pages.get_template(name).render(
            title=config.rubric.assignment.title, refresh=config.refresh_seconds, **values
        )
        return HTMLResponse(
            html,
            status_code=status,
            headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"},
        )

    def sign_in_page(request: Request, message: str = "", status: int = 200) -> HTMLResponse:
        nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(16)
        response = page("signin.html.j2", status, csrf=login_csrf(nonce), message=message)
        response.set_cookie(
            LOGIN_COOKIE, nonce, httponly=True, samesite="strict", secure=config.secure_cookies
        )
        return response

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> Response:
        who = page_caller(request)
        if who is None:
            return sign_in_page(request)
        return RedirectResponse("/instructor" if who.instructor else "/student", 303)

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request, token: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = ""
    ) -> Response:
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if not nonce or not hmac.compare_digest(csrf.encode(), login_csrf(nonce).encode()):
            return sign_in_page(request, "This form is stale; sign in again.", 403)
        who = authenticate(store, token)
        if who is None:
            return sign_in_page(request, "That token is not valid.", 401)
        response = RedirectResponse("/instructor" if who.instructor else "/student", 303)
        response.set_cookie(
            SESSION_COOKIE,
            token.strip(),
            httponly=True,
            samesite="strict",
            secure=config.secure_cookies,
        )
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        check_form(request, csrf)
        response = RedirectResponse("/", 303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    def student_page(
        request: Request, who: Identity, message: str = "", status: int = 200
    ) -> HTMLResponse:
        jobs = [status_of(j) for j in store.jobs(who.name, limit=50)]
        session = request.cookies.get(SESSION_COOKIE, "")
        return page(
            "student.html.j2",
            status,
            who=who,
            jobs=jobs,
            csrf=csrf_of(session),
            message=message,
            max_mb=config.limits.max_bytes / (1 << 20),  # MB as --max-upload-mb counts them
            pending=any(j["state"] != "done" for j in jobs),
        )

    @app.get("/student", response_class=HTMLResponse, include_in_schema=False)
    def student(request: Request) -> Response:
        who = page_caller(request)
        if who is None:
            return RedirectResponse("/", 303)
        if who.instructor:
            return RedirectResponse("/instructor", 303)
        return student_page(request, who)

    @app.post("/upload", include_in_schema=False)
    def upload(
        request: Request, file: Annotated[UploadFile, File()], csrf: Annotated[str, Form()] = ""
    ) -> Response:
        who = check_form(request, csrf)
        try:
            job = submit(who, file)
        except HTTPException as error:
            return student_page(request, who, str(error.detail), error.status_code)
        return RedirectResponse(f"/jobs/{job.id}", 303)

    @app.get("/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
    def job_page(request: Request, job_id: str) -> Response:
        who = page_caller(request)
        if who is None:
            return RedirectResponse("/", 303)
        job = own_job(job_id, who)
        if job.state == "done":
            html = render(result_for(job, who), "html", who)
            nav = pages.get_template("_report_nav.html.j2").render(job=status_of(job), who=who)
            html = html.replace("<body>", "<body>\n" + nav, 1)
            return HTMLResponse(html, headers={"Cache-Control": "no-store"})
        status = status_of(job)
        # without JavaScript, the page reloads itself when the API would say to ask again
        wait = retry_after(job, status.get("position")) or config.refresh_seconds
        return page("job.html.j2", job=status, who=who, wait=wait)

    @app.get("/instructor", response_class=HTMLResponse, include_in_schema=False)
    def instructor_page(request: Request) -> Response:
        who = page_caller(request)
        if who is None:
            return RedirectResponse("/", 303)
        if not who.instructor:
            raise HTTPException(403, "only the instructor may see this")
        jobs = [status_of(j) for j in store.jobs(limit=500)]
        session = request.cookies.get(SESSION_COOKIE, "")
        return page(
            "instructor.html.j2",
            who=who,
            jobs=jobs,
            counts=store.counts(),
            sandbox=config.sandbox,
            tier=config.tier,
            csrf=csrf_of(session),
            students=store.students(),
            graded=store.latest_results(),
            max_points=config.rubric.max_points,
            pending=any(j["state"] != "done" for j in jobs),
        )

    @app.get("/instructor/class", response_class=HTMLResponse, include_in_schema=False)
    def class_page(request: Request, credentials: Credentials) -> Response:
        who = page_caller(request) or authenticate(
            store, credentials.credentials if credentials else None
        )
        if who is None:
            return RedirectResponse("/", 303)
        if not who.instructor:
            raise HTTPException(403, "only the instructor may see this")
        from grader.report import render_class_summary

        done = latest()
        # relative: the class page links only within the site (report.html.safe_link)
        links = {result.submission.identity: f"../jobs/{job_id}" for job_id, result in done}
        html = (
            render_class_summary([r for _, r in done], links)
            if done
            else ("<!doctype html><title>Class</title><p>No results yet.</p>")
        )
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    @app.get("/api", response_class=HTMLResponse, include_in_schema=False)
    def api_page(request: Request) -> Response:
        """The API's reference, rendered here from the schema: readable offline."""
        base = str(request.base_url).rstrip("/")
        return page("api.html.j2", operations=api_reference(app.openapi(), base), base=base)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)  # none; browsers ask on every page

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        """A request without what the route takes (an empty body, no ``file`` field): one
        sentence, as every other refusal, instead of FastAPI's list of errors."""
        problems = [(tuple(e.get("loc", ())), str(e.get("msg", "invalid"))) for e in error.errors()]
        if any(loc == ("body", "file") for loc, _ in problems):
            sentence = (
                "the request holds no file: send the notebook, .py module or zip as the "
                "multipart field 'file' (curl -F file=@lab3.ipynb ...)"
            )
        else:
            sentence = "the request is not what this route takes: " + "; ".join(
                f"{'.'.join(map(str, loc[1:])) or loc[0]}: {msg.lower()}" for loc, msg in problems
            )
        return await http_error(request, HTTPException(422, sentence))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if request.url.path.startswith("/api/") or "text/html" not in request.headers.get(
            "accept", ""
        ):
            return JSONResponse({"detail": error.detail}, error.status_code, headers=error.headers)
        return page("error.html.j2", error.status_code, message=str(error.detail))

    return app
