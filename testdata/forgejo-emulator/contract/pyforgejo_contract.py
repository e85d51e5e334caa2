"""Contract test: drive the Forgejo emulator with pyforgejo, a client
generated (by Fern) from Forgejo's OpenAPI document that nobody here wrote,
and read every reply strictly.

Usage: python3 pyforgejo_contract.py BASE_URL
(started by testdata/forgejo-emulator/tests/pyforgejo.rs, which sets up the
fixture the comments below describe).

Strict means: every field the client's model declares is in the JSON reply,
no field it does not declare is (the emulator invents nothing), null only
where Forgejo's Go type is a pointer that can be nil, values validated by
pydantic in strict mode (no "1" for an int, no 0 for a bool; RFC 3339
strings for date-times), enums within their values, nested objects checked
the same way. Errors must be Forgejo's APIError ({"message", "url"}) with the
status and message Forgejo v11.0.10 answers.

Prints one line per case and closes with "N passed, N failed".
"""

import datetime as dt
import re
import sys
import typing

import httpx
import pydantic
from importlib.metadata import version

from pyforgejo import PyforgejoApi
from pyforgejo.core.api_error import ApiError
from pyforgejo.types.api_error import ApiError as ApiErrorBody
from pyforgejo.types.package import Package
from pyforgejo.types.package_file import PackageFile
from pyforgejo.types.team import Team
from pyforgejo.types.user import User

PINNED = "2.0.7"

# Go's time.Time JSON form (RFC 3339, optional fraction, Z or an offset).
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")

# Forgejo pointers that are nil in these replies: a package not linked to a
# repository (services/convert/package.go ToPackage).
NULLABLE = {("Package", "repository")}

# Tokens of the fixture (tests/pyforgejo.rs).
OWNER = "owner-token"  # viktor: write:package, read:user
PUSHER = "pusher-token"  # ci-pusher, read-only member of org platform: write:package, read:user
READONLY = "readonly-token"  # viktor: read:package
BOGUS = "no-such-token"

# A package name no container push can create (two separators in a row).
PROBE = "forgejo-retention--write-check"

passed = 0
failed = 0


class ContractError(Exception):
    pass


def model_of(annotation):
    """The pydantic model inside Optional[...] / List[...], and whether it is a list."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Union:
        inner = [a for a in args if a is not type(None)]
        return model_of(inner[0]) if len(inner) == 1 else (None, False)
    if origin in (list, typing.List):
        m, _ = model_of(args[0])
        return m, True
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation, False
    if isinstance(annotation, str):
        return None, False
    return None, False


def literal_values(annotation):
    for a in typing.get_args(annotation) or ():
        if typing.get_origin(a) is typing.Literal:
            return set(typing.get_args(a))
        found = literal_values(a)
        if found:
            return found
    return None


def strict(model, raw, where):
    if not isinstance(raw, dict):
        raise ContractError(f"{where}: expected a JSON object for {model.__name__}, got {type(raw).__name__}")
    model.model_rebuild()
    declared = {}
    for name, f in model.model_fields.items():
        declared[f.alias or name] = f
    for key in raw:
        if key not in declared:
            raise ContractError(f"{where}: field {key!r} is not in Forgejo's {model.__name__}")
    for key, f in declared.items():
        if key not in raw:
            raise ContractError(f"{where}: field {key!r} of {model.__name__} is missing")
        value = raw[key]
        if value is None:
            if (model.__name__, key) not in NULLABLE:
                raise ContractError(f"{where}.{key}: null where Forgejo always sends a value")
            continue
        allowed = literal_values(f.annotation)
        if allowed and value not in allowed:
            raise ContractError(f"{where}.{key}: {value!r} is not one of {sorted(allowed)}")
        sub, is_list = model_of(f.annotation)
        if sub is not None:
            items = value if is_list else [value]
            if is_list and not isinstance(value, list):
                raise ContractError(f"{where}.{key}: expected a list")
            for i, item in enumerate(items):
                strict(sub, item, f"{where}.{key}" + (f"[{i}]" if is_list else ""))
        else:
            exact(f.annotation, value, f"{where}.{key}")
    # And the client itself parses it.
    try:
        model.model_validate(raw)
    except pydantic.ValidationError as e:
        raise ContractError(f"{where}: pyforgejo cannot read this {model.__name__}: {e}") from None


def exact(annotation, value, where):
    """The JSON value has exactly the annotated scalar type: pydantic's own
    strict mode cannot be used here, as the generated models convert the
    JSON to Python objects first (date-times would never pass)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin is typing.Union:
        if any(typing.get_origin(a) is typing.Literal for a in args):
            if not isinstance(value, str):
                raise ContractError(f"{where}: {value!r} is not a string")
            return
        return exact(args[0], value, where)
    if typing.get_origin(annotation) is typing.Annotated:
        return exact(typing.get_args(annotation)[0], value, where)
    if origin in (list, typing.List):
        if not isinstance(value, list):
            raise ContractError(f"{where}: {value!r} is not a list")
        for i, v in enumerate(value):
            exact(args[0], v, f"{where}[{i}]")
        return
    if origin in (dict, typing.Dict):
        if not isinstance(value, dict):
            raise ContractError(f"{where}: {value!r} is not an object")
        for k, v in value.items():
            exact(args[1], v, f"{where}[{k!r}]")
        return
    if annotation is bool:
        ok = isinstance(value, bool)
    elif annotation is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif annotation is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif annotation is str:
        ok = isinstance(value, str)
    elif annotation is dt.datetime:
        ok = isinstance(value, str) and RFC3339.fullmatch(value) is not None
    else:
        raise ContractError(f"{where}: no strict check for {annotation!r}")
    if not ok:
        raise ContractError(f"{where}: {value!r} is not a {getattr(annotation, '__name__', annotation)}")


class Recorder:
    """Keeps the last raw HTTP response the client received."""

    def __init__(self):
        self.last = None

    def hook(self, response):
        response.read()
        self.last = response


def client(base, token):
    rec = Recorder()
    http = httpx.Client(event_hooks={"response": [rec.hook]}, timeout=30)
    return PyforgejoApi(base_url=f"{base}/api/v1", api_key=f"token {token}", httpx_client=http), rec


def case(name, fn):
    global passed, failed
    try:
        fn()
    except (ContractError, ApiError, AssertionError, pydantic.ValidationError) as e:
        failed += 1
        print(f"FAIL {name}: {e}")
    else:
        passed += 1
        print(f"ok   {name}")


def refused(base, token, call, status, message):
    """`call(client)` must raise the client's error for `status` with an
    APIError body carrying `message`."""

    def run():
        c, rec = client(base, token)
        try:
            call(c)
        except ApiError as e:
            if e.status_code != status:
                raise ContractError(f"status {e.status_code}, expected {status}: {e.body}")
            # Forgejo answers these with ctx.Error: an APIError, also for
            # 404 (the OpenAPI document names APINotFound, whose `errors`
            # only ctx.NotFound sends).
            body = rec.last.json()
            strict(ApiErrorBody, body, "error")
            if body["message"] != message:
                raise ContractError(f"message {body['message']!r}, expected {message!r}")
            if not body["url"].endswith("/api/swagger"):
                raise ContractError(f"url {body['url']!r} is not the swagger URL")
            return
        raise ContractError(f"expected {status}, the call succeeded ({rec.last.status_code if rec.last else '?'})")

    return run


def main():
    base = sys.argv[1].rstrip("/")
    got = version("pyforgejo")
    if got != PINNED:
        print(f"FAIL pyforgejo {got} is installed; this contract is pinned to {PINNED} (scripts/install-deps.sh)")
        print("0 passed, 1 failed")
        return 1

    def current_user():
        c, rec = client(base, OWNER)
        u = c.user.get_current()
        assert isinstance(u, User), type(u)
        strict(User, rec.last.json(), "GET /user")
        assert u.login == "viktor" and u.is_admin is False, u

    def teams():
        c, rec = client(base, PUSHER)
        ts = c.user.list_teams()
        assert all(isinstance(t, Team) for t in ts)
        raw = rec.last.json()
        assert isinstance(raw, list) and len(raw) == 1, raw
        for i, t in enumerate(raw):
            strict(Team, t, f"GET /user/teams[{i}]")
        assert raw[0]["organization"]["name"] == "platform" and raw[0]["units_map"]["repo.packages"] == "read", raw
        assert int(rec.last.headers["x-total-count"]) == 1

    def listing():
        c, rec = client(base, OWNER)
        seen = []
        page = 1
        while True:
            ps = c.package.list_packages("viktor", type="container", limit=2, page=page)
            assert all(isinstance(p, Package) for p in ps)
            raw = rec.last.json()
            for i, p in enumerate(raw):
                strict(Package, p, f"GET /packages/viktor page {page} [{i}]")
            total = int(rec.last.headers["x-total-count"])
            seen += [(p["name"], p["version"], p["created_at"]) for p in raw]
            if "rel=\"next\"" not in rec.last.headers.get("link", ""):
                break
            page += 1
        assert len(seen) == total, (len(seen), total)
        assert [s[2] for s in seen] == sorted((s[2] for s in seen), reverse=True), "newest first"
        # q is a case-insensitive substring (LIKE) match.
        assert len(c.package.list_packages("viktor", q="WE")) == total

    def one_version():
        c, rec = client(base, OWNER)
        p = c.package.get_package("viktor", "container", "web", "latest")
        strict(Package, rec.last.json(), "GET /packages/viktor/container/web/latest")
        assert p.version == "latest" and p.owner.login == "viktor" and p.type == "container"

    def files():
        c, rec = client(base, OWNER)
        for version, count in (("latest", 1), ("old", 3)):
            fs = c.package.list_package_files("viktor", "container", "web", version)
            assert all(isinstance(f, PackageFile) for f in fs)
            raw = rec.last.json()
            for i, f in enumerate(raw):
                strict(PackageFile, f, f"GET /packages/viktor/container/web/{version}/files[{i}]")
            # An index has its manifest only; an image its config, layer, manifest.
            assert len(raw) == count and raw[-1]["name"] == "manifest.json", raw
            assert all(f["name"] == "sha256_" + f["sha256"] for f in raw[:-1]), raw

    def delete_one():
        c, rec = client(base, OWNER)
        c.package.delete_package("viktor", "container", "web", "old")
        assert rec.last.status_code == 204, rec.last.status_code

    case("GET /user (owner token): User, strict", current_user)
    case("GET /user/teams (org member): [Team] with Organization, strict", teams)
    case("GET /packages/{owner} all pages: [Package] with User owner/creator, strict", listing)
    case("GET /packages/{owner}/{type}/{name}/{version}: Package, strict", one_version)
    case("GET /packages/{owner}/{type}/{name}/{version}/files: [PackageFile], strict", files)
    case("DELETE /packages/{owner}/{type}/{name}/{version} (owner): 204", delete_one)

    denied = "user should have specific permission or be a site admin"
    rejected = [
        # (what, token, call, status, message)
        ("write check as the owner: unlink of a missing package",
         OWNER, lambda c: c.package.unlink_package("viktor", "container", PROBE), 404, "package does not exist"),
        ("write check as another user", PUSHER,
         lambda c: c.package.unlink_package("viktor", "container", PROBE), 403, denied),
        ("write check as a read-only org member", PUSHER,
         lambda c: c.package.unlink_package("platform", "container", PROBE), 403, denied),
        ("write check without write:package", READONLY,
         lambda c: c.package.unlink_package("viktor", "container", PROBE), 403,
         "token does not have at least one of required scope(s): [write:package]"),
        ("delete of another user's version", PUSHER,
         lambda c: c.package.delete_package("viktor", "container", "web", "latest"), 403, denied),
        ("delete of a missing version answers 404 before any write check", PUSHER,
         lambda c: c.package.delete_package("viktor", "container", "web", "never"), 404, "package does not exist"),
        ("delete without write:package, even for an unknown owner", READONLY,
         lambda c: c.package.delete_package("nobody", "container", "web", "x"), 403,
         "token does not have at least one of required scope(s): [write:package]"),
        ("list of an unknown owner", OWNER,
         lambda c: c.package.list_packages("nobody"), 404, "user does not exist [uid: 0, name: nobody]"),
        ("version of another package type", OWNER,
         lambda c: c.package.get_package("viktor", "npm", "web", "latest"), 404, "package does not exist"),
        ("GET /user without read:user", READONLY,
         lambda c: c.user.get_current(), 403, "token does not have at least one of required scope(s): [read:user]"),
        ("GET /user/teams without read:user", READONLY,
         lambda c: c.user.list_teams(), 403, "token does not have at least one of required scope(s): [read:user]"),
        ("an unknown token", BOGUS, lambda c: c.user.get_current(), 401, "token is required"),
        ("an unknown token on the packages API", BOGUS,
         lambda c: c.package.list_packages("viktor"), 401, "token is required"),
    ]
    for what, token, call, status, message in rejected:
        case(f"rejected: {what} → {status}", refused(base, token, call, status, message))

    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
