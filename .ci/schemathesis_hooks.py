"""Schemathesis hooks of `.ci/schemathesis`: the credentials the fuzzer runs with.

Every operation that takes a staff token gets the admin's access token; every operation that
only integration clients may call gets a client-credentials token of a client with all
scopes, made here once through the API. Public operations (login, refresh, the token grant,
health) get no token.

The fuzzer's own calls end its session: `POST /api/v1/auth/logout` ends it, and a wrong
current password at `POST /api/v1/me/password` counts as a failed login, so a few of them lock
the account and end all its sessions; a valid one changes the password, and a PATCH of its
own account can demote it. The provider below therefore signs in again whenever a request
with its token answers 401 or 403 (schemathesis' `retry_on`: it drops the cached token, asks
`get` for a new one and sends the request again), waiting out a login rate limit (429); when
the admin cannot sign in or is no admin any more, `create-admin` resets (and unlocks) it or
makes a new one at once. Nothing is skipped and no check is turned off.

Read from the environment: REGISTRY_URL (e.g. http://127.0.0.1:8081), REGISTRY_ADMIN,
REGISTRY_ADMIN_PASSWORD and REGISTRY_ADMIN_CREATE (the `create-admin` command line, without its
`--username`, that resets the admin when the fuzzer has changed its password).
"""

import os
import re
import shlex
import subprocess
import threading
import time

import requests
import schemathesis
from schemathesis.core.parameters import ParameterLocation

import schemathesis_rules as rules

BASE_URL = os.environ["REGISTRY_URL"].rstrip("/")
ADMIN = os.environ["REGISTRY_ADMIN"]
ADMIN_PASSWORD = os.environ["REGISTRY_ADMIN_PASSWORD"]
# A command that resets the admin's password from standard input (`create-admin`), if given.
CREATE_ADMIN = shlex.split(os.environ.get("REGISTRY_ADMIN_CREATE", ""))

CLIENT_SCOPES = ["applications:write", "applications:read", "certificates:verify"]
# How long `get` keeps trying to sign in through login limits and a busy server (429, 503).
SIGN_IN_PATIENCE_SECS = 30


def _schemes(operation):
    """The security schemes an operation accepts: {"bearerAuth"}, {"clientCredentials"}, both, none."""
    security = operation.definition.raw.get("security")
    if security is None:
        security = operation.schema.raw_schema.get("security") or []
    return {name for requirement in security for name in requirement}


def _kind(case, context):
    schemes = _schemes(context.operation)
    if "bearerAuth" in schemes:
        return "staff"
    if "clientCredentials" in schemes:
        return "client"
    return "public"


def _post_patiently(path, what, **kwargs):
    """POSTs until it answers 200 or 201, waiting out 429 and 503. Any other answer fails at
    once: a 401 means the credentials no longer work (the fuzzer changed the admin's password,
    locked the account or rotated the client's secret), which waiting does not mend and the
    callers mend by making them again (`create-admin` also unlocks)."""
    deadline = time.monotonic() + SIGN_IN_PATIENCE_SECS
    while True:
        response = requests.post(f"{BASE_URL}{path}", timeout=30, **kwargs)
        if response.status_code in (200, 201):
            return response.json()
        if time.monotonic() >= deadline or response.status_code not in (429, 503):
            raise RuntimeError(f"{what}: {response.status_code} {response.text[:300]}")
        wait = response.headers.get("Retry-After", "1")
        time.sleep(min(max(float(wait) if wait.isdigit() else 1.0, 0.2), 5.0))


def _create_admin(username):
    """Runs `create-admin` for `username`; answers whether it made or reset an admin."""
    made = subprocess.run(
        [*CREATE_ADMIN, "--username", username, "--password-stdin"],
        input=f"{ADMIN_PASSWORD}\n",
        text=True,
        capture_output=True,
        timeout=60,
    )
    return made.returncode == 0


class _Credentials:
    """The admin's sign-in and the integration client, shared by all worker threads."""

    lock = threading.RLock()  # admin_token() runs inside client_token()'s hold
    client = None  # (client_id, client_secret)

    admin = ADMIN
    admins_made = 0

    @classmethod
    def token(cls, kind):
        """A fresh token of the admin ("staff") or of the integration client ("client")."""
        return cls.admin_token() if kind == "staff" else cls.client_token()

    @classmethod
    def admin_token(cls):
        return cls.admin_sign_in()["access_token"]

    @classmethod
    def admin_sign_in(cls):
        """The admin's token pair, the admin made again first when it cannot sign in."""
        pair = cls._sign_in_as_admin()
        if pair is not None:
            return pair
        if not CREATE_ADMIN:
            raise RuntimeError(f"{cls.admin} cannot sign in as an admin")
        # The fuzzer can change the admin's password, disable it, or make it a caseworker once it
        # has made another admin (PATCH /api/v1/users/{id} with the right ETag): `create-admin`
        # on the same database resets it, the documented way back in; one whose role changed is
        # not an admin to reset, so a new admin is made in its place.
        with cls.lock:
            if not _create_admin(cls.admin):
                cls.admins_made += 1
                cls.admin = f"{ADMIN}-{cls.admins_made}"
                if not _create_admin(cls.admin):
                    raise RuntimeError(f"create-admin could not make {cls.admin}")
        pair = cls._sign_in_as_admin()
        if pair is None:
            raise RuntimeError(f"{cls.admin} cannot sign in as an admin after create-admin")
        return pair

    @classmethod
    def _sign_in_as_admin(cls):
        """The hooks' admin's token pair, or None when it cannot sign in or is no admin now."""
        try:
            pair = _post_patiently(
                "/api/v1/auth/login",
                f"signing in as {cls.admin}",
                json={"username": cls.admin, "password": ADMIN_PASSWORD},
            )
        except RuntimeError:
            return None
        me = requests.get(
            f"{BASE_URL}/api/v1/me",
            headers={"Authorization": f"Bearer {pair['access_token']}"},
            timeout=30,
        )
        if me.status_code == 200 and me.json().get("role") == "admin":
            return pair
        return None

    @classmethod
    def client_token(cls):
        # The fuzzer can disable the hooks' client or rotate its secret (the admin routes of
        # clients take its id from their lists): then a new client is made and asked once more.
        for attempt in range(2):
            with cls.lock:
                if cls.client is None:
                    made = _post_patiently(
                        "/api/v1/clients",
                        "creating the integration client",
                        json={"name": "schemathesis", "scopes": CLIENT_SCOPES},
                        headers={"Authorization": f"Bearer {cls.admin_token()}"},
                    )
                    cls.client = (made["id"], made["client_secret"])
                client_id, secret = cls.client
            try:
                body = _post_patiently(
                    "/api/v1/auth/token",
                    "the client credentials grant",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": client_id,
                        "client_secret": secret,
                    },
                )
            except RuntimeError:
                with cls.lock:
                    cls.client = None
                if attempt == 1:
                    raise
                continue
            return body["access_token"]


@schemathesis.auth(refresh_interval=600, cache_by_key=_kind, retry_on=[401, 403])
class RegistryAuth:
    """The admin's token for staff routes, a client's for integration-only routes."""

    def get(self, case, context):
        kind = _kind(case, context)
        return None if kind == "public" else _Credentials.token(kind)

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


# ---- values a schema cannot state ---------------------------------------------------------
#
# Two request values are valid only as the server handed them out, which no schema can
# describe: the `If-Match` of an update (the current version of that very resource) and the
# `cursor` of a list (the `next_cursor` of an earlier page of the same list). The hook below
# replaces what the fuzzer made up with the real value, read through the API just before the
# call: a cursor in a query generated as valid, and an If-Match in the shape of an ETag (see
# `before_call`). Other rules of the spec that a schema cannot state are kept by
# `schemathesis_rules.py`, for the parts of a request generated as valid. A part generated as
# invalid goes out as generated, so the server's refusal of bad values is still checked.


class _Reader:
    """GETs and POSTs through the API with the admin's or the client's token, signing in again
    on 401 (the session ended) or 403 (the fuzzer demoted the admin, or narrowed the client)."""

    tokens = {}

    @classmethod
    def get(cls, kind, path, params=None):
        return cls._send("GET", kind, path, params=params)

    @classmethod
    def post(cls, kind, path, json):
        return cls._send("POST", kind, path, json=json)

    @classmethod
    def _send(cls, method, kind, path, **kwargs):
        for _ in range(2):
            token = cls.tokens.get(kind)
            if token is None:
                token = _Credentials.token(kind)
                cls.tokens[kind] = token
            response = requests.request(
                method,
                f"{BASE_URL}{path}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
                **kwargs,
            )
            if response.status_code not in (401, 403):
                return response
            cls.tokens.pop(kind, None)
        return response


def _made_valid(case, location):
    """Whether the fuzzer generated this part of the request as valid (positive mode)."""
    meta = getattr(case, "meta", None)
    return meta is not None and not meta.is_negative_at(location)


def _find_version(value, wanted_id):
    """The `version` of the object with `id` == wanted_id anywhere in a JSON answer."""
    if isinstance(value, dict):
        if value.get("id") == wanted_id and isinstance(value.get("version"), int):
            return value["version"]
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            found = _find_version(item, wanted_id)
            if found is not None:
                return found
    return None


def _current_etag(case, kind):
    """The ETag the server holds for the resource an update names, or None if there is none."""
    path = case.formatted_path
    template = case.operation.path
    params = case.path_parameters or {}
    if case.method.upper() == "PATCH" and template in (
        "/api/v1/users/{id}",
        "/api/v1/residents/{id}",
    ):
        response = _Reader.get(kind, path)
        return response.headers.get("ETag") if response.status_code == 200 else None
    if template == "/api/v1/residents/{id}/moves":
        response = _Reader.get(kind, f"/api/v1/residents/{params.get('id')}")
        return response.headers.get("ETag") if response.status_code == 200 else None
    # A record of the file (a section record) or a facility: its version is in the file, or
    # in the list of facilities.
    if template.startswith("/api/v1/residents/{id}/"):
        owner = f"/api/v1/residents/{params.get('id')}/file"
    elif template == "/api/v1/facilities/{id}":
        owner = "/api/v1/facilities"
    else:
        return None
    response = _Reader.get(kind, owner)
    if response.status_code != 200:
        return None
    # The thing changed is named by the path's last parameter (`record_id`, `grant_id`,
    # `case_id`; a facility's `id`), also on an action below it such as `/void`.
    names = re.findall(r"{(\w+)}", template)
    wanted = str(params.get(names[-1])) if names else None
    version = _find_version(response.json(), wanted)
    return None if version is None else f'"{version}"'


def _real_cursor(case, kind):
    """The `next_cursor` of the first page of the same list, or None when it has one page."""
    query = {k: v for k, v in (case.query or {}).items() if k != "cursor"}
    query["limit"] = 1
    response = _Reader.get(kind, case.formatted_path, params=query)
    if response.status_code != 200:
        return None
    try:
        return response.json().get("next_cursor")
    except ValueError:
        return None


ETAG = re.compile(r'^"\d+"$')


@schemathesis.hook
def before_call(context, case, **kwargs):
    kind = _kind(case, context)
    if kind == "public":
        _working_credentials(case)
        return
    rules.obey(case, kind, _Reader, valid=lambda location: _made_valid(case, location))
    headers = case.headers or {}
    # The If-Match of a valid request, and a version the fuzzer made up in the shape of an ETag
    # in any request, stand for "the version I read": they become the current one (an invalid
    # request is then refused for what makes it invalid, not for a version nobody read). In
    # headers generated as invalid, an If-Match of another shape, or none, goes out as made.
    if "If-Match" in headers and (
        _made_valid(case, ParameterLocation.HEADER) or ETAG.match(str(headers["If-Match"]))
    ):
        _renew_own_token(case, kind)
        etag = _current_etag(case, kind)
        if etag is not None:
            headers["If-Match"] = etag
    if case.query and "cursor" in case.query and _made_valid(case, ParameterLocation.QUERY):
        cursor = _real_cursor(case, kind)
        if cursor is None:
            del case.query["cursor"]
        else:
            case.query["cursor"] = cursor


def _working_credentials(case):
    """Credentials that work in a sign-in, a refresh or a token grant generated as valid.

    Made-up ones can only answer 401, so the logic behind these routes would go untested (and
    `.ci/schemathesis.toml` fails a run on an operation answered only 401). A body generated
    as invalid goes out as generated.
    """
    body = case.body
    if not isinstance(body, dict) or not _made_valid(case, ParameterLocation.BODY):
        return
    path = case.operation.path
    if path == "/api/v1/auth/login":
        _Credentials.admin_token()  # the admin can sign in, made again if need be
        body["username"] = _Credentials.admin
        body["password"] = ADMIN_PASSWORD
    elif path == "/api/v1/auth/refresh":
        body["refresh_token"] = _Credentials.admin_sign_in()["refresh_token"]
    elif path == "/api/v1/auth/token":
        _Credentials.client_token()  # the client works, made again if need be
        body["client_id"], body["client_secret"] = _Credentials.client
        # A scope is a subset of the client's.
        if "scope" in body:
            body["scope"] = CLIENT_SCOPES[1]


def _renew_own_token(case, kind):
    """Signs in again before the values above are read, when the case's token has expired.

    Otherwise the call answers 401 and is retried after `get` signs in again; if that sign-in
    had to reset the admin (`create-admin` changes its version), a PATCH of the admin's own
    account goes out with the ETag read before the reset and meets 412.
    """
    authorization = (case.headers or {}).get("Authorization")
    if not authorization:
        return
    probe = "/api/v1/me" if kind == "staff" else "/api/v1/areas"
    answer = requests.get(f"{BASE_URL}{probe}", headers={"Authorization": authorization}, timeout=30)
    if answer.status_code == 401:
        case.headers["Authorization"] = f"Bearer {_Credentials.token(kind)}"
