"""The deployment examples in examples/serve/: the systemd unit and the Dockerfile start
``grader serve`` with options it knows (the Dockerfile read, not built: no Docker daemon
is needed), and nginx.conf, as written (names, ports and certificate paths
swapped for loopback ones), puts TLS in front of the real server: sign in over HTTPS
gets a Secure cookie, a submission is graded, and an upload over the service's limit
reaches the service's own clear refusal rather than the proxy's.

nginx is Debian's ``nginx-light`` (``.ci/run`` may install it); skipped when absent."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.serve.cli import build_parser
from tests.grader.serve.conftest import DEMO, ROOT, Class, Server, free_port, need_web_stack

need_web_stack()
import httpx  # noqa: E402

EXAMPLES = ROOT / "examples" / "serve"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def trusting(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((EXAMPLES / "grader-serve.service").read_text(encoding="utf-8"))
    return parser


def test_systemd_unit_starts_grader_serve_with_options_it_knows() -> None:
    service = unit()["Service"]
    command = shlex.split(service["ExecStart"])
    assert command[0].endswith("/grader") and command[1] == "serve"
    args = build_parser().parse_args(command[2:])  # an unknown option exits here
    assert (ROOT / "rubrics" / args.rubric.name).is_file()
    assert args.host == "127.0.0.1" and args.secure_cookies  # behind the TLS proxy
    assert service["Restart"] == "always"
    # the store is the one place the service writes
    assert service["ReadWritePaths"] == str(args.data)
    for forbidden in ("RestrictNamespaces", "PrivateUsers"):  # bubblewrap needs them
        assert forbidden not in service


def test_proxies_allow_a_little_more_than_the_service() -> None:
    """Both proxies' body limits sit above the service's default upload limit, so the
    service's own sentence answers an oversized upload."""
    from grader.serve.uploads import DEFAULT_MAX_BYTES

    nginx = re.search(r"client_max_body_size (\d+)m;", (EXAMPLES / "nginx.conf").read_text())
    caddy = re.search(r"max_size (\d+)MB", (EXAMPLES / "Caddyfile").read_text())
    assert nginx and int(nginx.group(1)) << 20 > DEFAULT_MAX_BYTES
    assert caddy and int(caddy.group(1)) * 10**6 > DEFAULT_MAX_BYTES


@pytest.fixture
def proxy(server: Server) -> Iterator[tuple[str, Path]]:
    """nginx with examples/serve/nginx.conf in front of ``server``: (https URL, CA file)."""
    if NGINX is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    # nginx's workers must reach the folder: not pytest's root-only tmp_path
    base = Path(tempfile.mkdtemp(prefix="grader-nginx-"))
    base.chmod(0o755)
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(base / "key.pem"), "-out", str(base / "cert.pem"),
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    https, http = free_port(), free_port()
    site = (EXAMPLES / "nginx.conf").read_text(encoding="utf-8")
    swaps = {
        "listen 80;": f"listen 127.0.0.1:{http};",
        "listen 443 ssl;": f"listen 127.0.0.1:{https} ssl;",
        "/etc/letsencrypt/live/grader.example.edu/fullchain.pem": str(base / "cert.pem"),
        "/etc/letsencrypt/live/grader.example.edu/privkey.pem": str(base / "key.pem"),
        "http://127.0.0.1:8000": server.url,
        "grader.example.edu": "localhost",
    }
    for old, new in swaps.items():
        assert old in site, old
        site = site.replace(old, new)
    (base / "site.conf").write_text(site)
    temps = " ".join(
        f"{kind}_temp_path {base / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (base / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes 1;\npid {base / 'nginx.pid'};\nerror_log {base / 'error.log'};\n"
        + f"events {{}}\nhttp {{\naccess_log off;\n{temps}\ninclude {base / 'site.conf'};\n}}\n"
    )
    nginx = subprocess.Popen(
        [NGINX, "-p", str(base), "-c", str(base / "nginx.conf"), "-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )
    url = f"https://localhost:{https}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert nginx.poll() is None, nginx.stderr.read() if nginx.stderr else ""
            try:
                httpx.get(url + "/favicon.ico", verify=trusting(base / "cert.pem"), timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, (base / "error.log").read_text()
                time.sleep(0.2)
        yield url, base / "cert.pem"
    finally:
        nginx.terminate()
        nginx.wait(10)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_nginx_example_puts_tls_in_front_of_the_service(
    klass: Class, server: Server, proxy: tuple[str, Path]
) -> None:
    server.start("--workers", "1", "--secure-cookies")
    url, ca = proxy
    with httpx.Client(base_url=url, verify=trusting(ca), timeout=30) as client:
        signin = client.get("/")
        assert signin.status_code == 200 and 'action="/login"' in signin.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', signin.text)
        assert csrf
        login = client.post("/login", data={"token": klass.tokens["alice"], "csrf": csrf.group(1)})
        assert login.status_code == 303 and login.headers["location"] == "/student"
        cookie = login.headers["set-cookie"]
        assert "grader_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie

        alice = klass.auth("alice")
        answer = client.post(
            "/api/submissions",
            headers=alice,
            files={"file": ("lab3.ipynb", (DEMO / "alice.ipynb").read_bytes())},
        )
        assert answer.status_code == 202, answer.text
        job = answer.json()["job"]
        deadline = time.monotonic() + 120
        while (status := client.get(f"/api/jobs/{job}", headers=alice).json())["state"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.3)
        assert status["outcome"] == "graded"

        # above the service's limit, below the proxy's: the service's own sentence
        big = client.post(
            "/api/submissions",
            headers=alice,
            files={"file": ("lab3.ipynb", b"x" * (5 << 20) + b"x" * (300 << 10))},
        )
        assert big.status_code == 413
        assert "larger than this service accepts" in big.json()["detail"]


def dockerfile() -> list[tuple[str, str]]:
    """examples/serve/Dockerfile's instructions, (KEYWORD, arguments), continuations joined."""
    lines = (EXAMPLES / "Dockerfile").read_text(encoding="utf-8").splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def test_dockerfile_installs_the_service_and_bubblewrap_and_runs_grader_serve() -> None:
    """Read, not built (no Docker daemon needed): what it copies exists, the extras it
    installs are pyproject's, bubblewrap is installed, and its command is a ``grader
    serve`` that this parser accepts, on the rubric it copied and the volume it declares."""
    import json
    import tomllib

    steps = dockerfile()
    keywords = [k for k, _ in steps]
    assert keywords[0] == "FROM" and "python:3.11" in steps[0][1]
    runs = " ".join(a for k, a in steps if k == "RUN")
    assert re.search(r"apt-get install [^&]*\bbubblewrap\b", runs)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (extras,) = re.findall(r"pip install [^&]*'\.\[([\w,]+)\]'", runs)
    assert "serve" in extras.split(",")
    assert set(extras.split(",")) <= set(project["optional-dependencies"])
    copied = set()
    for keyword, args in steps:
        if keyword == "COPY":
            *sources, _ = args.split()
            for source in sources:
                assert (ROOT / source).exists(), source
                copied.add(source)
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for pattern in packages["packages"]["find"]["include"]:
        assert pattern.rstrip("*") in copied  # every package the install finds
    assert project["readme"] in copied  # setuptools reads it to build
    (command,) = [json.loads(a) for k, a in steps if k == "CMD"]
    assert command[:2] == ["grader", "serve"]
    args = build_parser().parse_args(command[2:])  # an unknown option exits here
    assert str(args.rubric).split("/")[0] in copied and (ROOT / args.rubric).is_file()
    (volume,) = [a for k, a in steps if k == "VOLUME"]
    assert str(args.data) == volume
    assert args.host == "0.0.0.0" and str(args.port) in [a for k, a in steps if k == "EXPOSE"]
    assert "USER" not in keywords  # root in the container: see the file's note on tiers
    note = (EXAMPLES / "Dockerfile").read_text(encoding="utf-8")
    assert "--security-opt seccomp=unconfined" in note and "--min-tier bwrap" in note


def test_dockerfile_usage_lines_run_the_image_it_builds_with_options_grader_knows() -> None:
    comments = [
        line.lstrip("#").strip()
        for line in (EXAMPLES / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    ]
    commands = [
        shlex.split(c)
        for c in re.sub(r"\\\n\s*", " ", "\n".join(comments)).splitlines()
        if c.startswith("docker ")
    ]
    (build,) = [c for c in commands if c[1] == "build"]
    image = build[build.index("-t") + 1]
    assert (ROOT / build[build.index("-f") + 1]).is_file() and build[-1] == "."
    runs = [c for c in commands if c[1] == "run"]
    assert len(runs) == 2
    tokens, serve = runs
    grader = tokens[tokens.index(image) + 1 :]
    assert grader[:3] == ["grader", "serve", "tokens"]
    args = build_parser().parse_args(grader[2:])
    assert args.data == Path("/data") and len(args.tokens) == 2
    assert serve[-1] == image  # the image's own command: the CMD the test above reads
    assert "127.0.0.1:8000:8000" in serve and "grader-data:/data" in serve
    assert {"seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"} <= {
        serve[i + 1] for i, word in enumerate(serve) if word == "--security-opt"
    }
