"""Contract test: drive the Authentik emulator with `authentik-client`, the
client goauthentik generates from Authentik's OpenAPI document (nobody here
wrote it), and read every reply strictly.

Usage: python3 authentik_client_contract.py BASE_URL TOKEN
(started by testdata/authentik-emulator/tests/authentik_client.rs on a
freshly seeded emulator).

Strict means: every field the client's reply model declares is in the JSON
reply and no other is (the emulator invents nothing), null only where the
model allows None, exact JSON types (int not bool or float, UUID strings,
RFC 3339 date-times, enum values within their sets, patterns such as the
slug one), nested models checked the same way; then the client itself
parses the reply (pydantic, strict types). Requests the real server rejects
go out as raw HTTP (the client would refuse to send some of them) and must
come back with Authentik's status and error shape.

Prints one line per case and closes with "N passed, N failed".
"""

import datetime as dt
import json
import re
import sys
import typing
import urllib.error
import urllib.request
import uuid
from enum import Enum
from importlib.metadata import version

import pydantic

import authentik_client as ak
from authentik_client.models import (
    Application,
    ApplicationRequest,
    ExpressionPolicy,
    ExpressionPolicyRequest,
    Flow,
    GenericError,
    Group,
    GroupRequest,
    Outpost,
    OutpostRequest,
    PaginatedApplicationList,
    PaginatedExpressionPolicyList,
    PaginatedFlowList,
    PaginatedGroupList,
    PaginatedOutpostList,
    PaginatedPolicyBindingList,
    PaginatedProxyProviderList,
    PaginatedUserList,
    PatchedApplicationRequest,
    PatchedOutpostRequest,
    PatchedPolicyBindingRequest,
    PatchedProxyProviderRequest,
    PolicyBinding,
    PolicyBindingRequest,
    PolicyTestResult,
    ProxyProvider,
    ProxyProviderRequest,
    User,
    UserRequest,
)

PINNED = "2026.2.4"

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")

passed = 0
failed = 0


class ContractError(Exception):
    pass


def unwrap(annotation):
    """(inner annotation, nullable) of Optional[...] / Annotated[...]."""
    nullable = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin is typing.Union:
            args = typing.get_args(annotation)
            if type(None) in args:
                nullable = True
                rest = [a for a in args if a is not type(None)]
                annotation = rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]
                continue
        return annotation, nullable


def scalar_ok(annotation, value, meta):
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        if not (isinstance(value, int) and not isinstance(value, bool)):
            return False
        for m in meta:
            if getattr(m, "ge", None) is not None and value < m.ge:
                return False
            if getattr(m, "le", None) is not None and value > m.le:
                return False
        return True
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        if not isinstance(value, str):
            return False
        for m in meta:
            if getattr(m, "max_length", None) is not None and len(value) > m.max_length:
                return False
        return True
    if annotation is uuid.UUID:
        try:
            return isinstance(value, str) and str(uuid.UUID(value)) == value.lower()
        except ValueError:
            return False
    if annotation is dt.datetime:
        return isinstance(value, str) and RFC3339.fullmatch(value) is not None
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return isinstance(value, str) and value in {e.value for e in annotation}
    raise ContractError(f"no strict check for {annotation!r}")


def metadata_of(field):
    out = list(field.metadata)
    ann = field.annotation
    while typing.get_origin(ann) in (typing.Union, typing.Annotated):
        for a in typing.get_args(ann):
            if typing.get_origin(a) is typing.Annotated:
                out += list(typing.get_args(a)[1:])
                for inner in typing.get_args(a)[1:]:
                    out += list(getattr(inner, "metadata", []))
        ann = next((a for a in typing.get_args(ann) if a is not type(None)), None)
        if ann is None:
            break
    flat = []
    for m in out:
        flat.append(m)
        flat += list(getattr(m, "metadata", []))
    return flat


def value_check(annotation, value, where, meta):
    annotation, _ = unwrap(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Union:
        # Pagination numbers: Union[StrictFloat, StrictInt].
        if not any(scalar_ok(unwrap(a)[0], value, []) for a in typing.get_args(annotation)):
            raise ContractError(f"{where}: {value!r} is not a number")
        return
    if origin in (list, typing.List):
        if not isinstance(value, list):
            raise ContractError(f"{where}: {value!r} is not a list")
        (item,) = typing.get_args(annotation)
        for i, v in enumerate(value):
            value_check(item, v, f"{where}[{i}]", [])
        return
    if origin in (dict, typing.Dict):
        if not isinstance(value, dict):
            raise ContractError(f"{where}: {value!r} is not an object")
        return
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        strict(annotation, value, where)
        return
    if not scalar_ok(annotation, value, meta):
        raise ContractError(f"{where}: {value!r} is not a valid {getattr(annotation, '__name__', annotation)}")


def strict(model, raw, where, optional_may_be_absent=False):
    if not isinstance(raw, dict):
        raise ContractError(f"{where}: expected a JSON object for {model.__name__}, got {type(raw).__name__}")
    declared = {(f.alias or name): f for name, f in model.model_fields.items() if name != "additional_properties"}
    for key in raw:
        if key not in declared:
            raise ContractError(f"{where}: field {key!r} is not in Authentik's {model.__name__}")
    for key, f in declared.items():
        if key not in raw:
            if optional_may_be_absent and not f.is_required():
                continue
            if f.is_required():
                raise ContractError(f"{where}: required field {key!r} of {model.__name__} is missing")
            raise ContractError(f"{where}: field {key!r} of {model.__name__} is missing (the serializer sends it)")
        value = raw[key]
        _, nullable = unwrap(f.annotation)
        if value is None:
            if not nullable:
                raise ContractError(f"{where}.{key}: null where {model.__name__} does not allow it")
            continue
        value_check(f.annotation, value, f"{where}.{key}", metadata_of(f))
    # Field validators (slug and username patterns) and the client's parse.
    try:
        model.from_dict(raw)
    except pydantic.ValidationError as e:
        raise ContractError(f"{where}: authentik-client cannot read this {model.__name__}: {e}") from None


def case(name, fn):
    global passed, failed
    try:
        fn()
    except (ContractError, ak.ApiException, AssertionError, pydantic.ValidationError, KeyError) as e:
        failed += 1
        print(f"FAIL {name}: {type(e).__name__}: {e}")
    else:
        passed += 1
        print(f"ok   {name}")


class Contract:
    def __init__(self, base, token):
        self.base = base
        self.token = token
        conf = ak.Configuration(host=f"{base}/api/v3", access_token=token)
        self.client = ak.ApiClient(conf)
        self.core = ak.CoreApi(self.client)
        self.providers = ak.ProvidersApi(self.client)
        self.outposts = ak.OutpostsApi(self.client)
        self.policies = ak.PoliciesApi(self.client)
        self.flows = ak.FlowsApi(self.client)
        self.made = {}

    def read(self, call, model, where, status=None):
        """Calls an `*_with_http_info` method; checks the raw reply
        strictly against `model` and returns (parsed, raw JSON)."""
        r = call()
        if status is not None and r.status_code != status:
            raise ContractError(f"{where}: status {r.status_code}, expected {status}")
        raw = json.loads(r.raw_data)
        strict(model, raw, where)
        if not isinstance(r.data, model):
            raise ContractError(f"{where}: the client returned {type(r.data).__name__}")
        return r.data, raw

    def every_page(self, call, model, where):
        """Lists with page_size=1 through every page; returns all raw results."""
        out = []
        page = 1
        while True:
            _, raw = self.read(lambda: call(page=page, page_size=1), model, f"{where} page {page}")
            p = raw["pagination"]
            assert p["current"] == page and p["count"] >= len(out), p
            out += raw["results"]
            if p["next"] == 0:
                assert len(out) == p["count"] and p["total_pages"] == max(p["count"], 1), p
                return out
            assert p["next"] == page + 1, p
            page = p["next"]

    def raw(self, method, path, body=None):
        req = urllib.request.Request(
            f"{self.base}/api/v3/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                text = resp.read()
                return resp.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as e:
            text = e.read()
            return e.code, (json.loads(text) if text else None)


def validation_error(body, where):
    """Authentik's `ValidationError` component: `non_field_errors` and one
    list of messages per field."""
    if not isinstance(body, dict) or not body:
        raise ContractError(f"{where}: {body!r} is not a ValidationError")
    for k, v in body.items():
        if k == "code":
            continue
        # check_access answers {"for_user": "User not found"} (a string).
        if not (isinstance(v, str) or isinstance(v, list) and all(isinstance(m, str) for m in v)):
            raise ContractError(f"{where}: {k}: {v!r} is not a list of messages")


def main():
    base, token = sys.argv[1].rstrip("/"), sys.argv[2]
    got = version("authentik-client")
    if got != PINNED:
        print(f"FAIL authentik-client {got} is installed; this contract is pinned to {PINNED} (scripts/install-deps.sh)")
        print("0 passed, 1 failed")
        return 1
    c = Contract(base, token)
    m = c.made

    def flows():
        rows = c.every_page(c.flows.flows_instances_list_with_http_info, PaginatedFlowList, "GET flows/instances/")
        by_slug = {f["slug"]: f for f in rows}
        m["authz"] = by_slug["default-provider-authorization-implicit-consent"]["pk"]
        m["inval"] = by_slug["default-provider-invalidation-flow"]["pk"]
        f, _ = c.read(lambda: c.flows.flows_instances_retrieve_with_http_info("default-provider-invalidation-flow"), Flow, "GET flows/instances/{slug}/")
        assert str(f.pk) == m["inval"]
        _, one = c.read(lambda: c.flows.flows_instances_list_with_http_info(flow_uuid=m["inval"]), PaginatedFlowList, "GET flows/instances/?flow_uuid=")
        assert [r["slug"] for r in one["results"]] == ["default-provider-invalidation-flow"], one

    def groups_and_users():
        parent, _ = c.read(lambda: c.core.core_groups_create_with_http_info(GroupRequest(name="contract-parent")), Group, "POST core/groups/", 201)
        child, _ = c.read(lambda: c.core.core_groups_create_with_http_info(GroupRequest(name="contract-child", parents=[parent.pk])), Group, "POST core/groups/ (parents)", 201)
        user, _ = c.read(lambda: c.core.core_users_create_with_http_info(UserRequest(username="contract-user", name="Contract User", email="c@example.test", groups=[child.pk])), User, "POST core/users/", 201)
        m["parent"], m["child"], m["user"] = str(parent.pk), str(child.pk), user.pk
        _, g = c.read(lambda: c.core.core_groups_retrieve_with_http_info(str(parent.pk), include_children=True), Group, "GET core/groups/{pk}/?include_children=true")
        assert g["children"] == [m["child"]] and g["parents"] == [], g
        _, g = c.read(lambda: c.core.core_groups_retrieve_with_http_info(str(child.pk)), Group, "GET core/groups/{pk}/")
        assert g["parents"] == [m["parent"]] and g["users"] == [user.pk], g
        _, u = c.read(lambda: c.core.core_users_retrieve_with_http_info(user.pk), User, "GET core/users/{pk}/")
        assert u["groups"] == [m["child"]] and re.fullmatch(r"[0-9a-f]{64}", u["uid"]), u
        assert u["avatar"].startswith("data:image/svg+xml;base64,"), u["avatar"][:40]
        c.read(lambda: c.core.core_groups_partial_update_with_http_info(m["child"], ak.PatchedGroupRequest(attributes={"k": "v"})), Group, "PATCH core/groups/{pk}/")
        c.read(lambda: c.core.core_users_partial_update_with_http_info(user.pk, ak.PatchedUserRequest(name="Renamed")), User, "PATCH core/users/{pk}/")
        c.every_page(c.core.core_groups_list_with_http_info, PaginatedGroupList, "GET core/groups/")
        c.every_page(c.core.core_users_list_with_http_info, PaginatedUserList, "GET core/users/")

    def proxy_provider():
        req = ProxyProviderRequest(name="contract-host", authorization_flow=m["authz"], invalidation_flow=m["inval"], external_host="https://contract.example.test", mode="forward_single", access_token_validity="hours=2;minutes=30")
        p, raw = c.read(lambda: c.providers.providers_proxy_create_with_http_info(req), ProxyProvider, "POST providers/proxy/", 201)
        m["provider"] = p.pk
        assert raw["assigned_application_slug"] is None and raw["outpost_set"] == [], raw
        assert raw["redirect_uris"][0]["matching_mode"] == "strict", raw
        c.read(lambda: c.providers.providers_proxy_retrieve_with_http_info(p.pk), ProxyProvider, "GET providers/proxy/{pk}/")
        put = req.model_copy(update={"skip_path_regex": "^/public/"})
        c.read(lambda: c.providers.providers_proxy_update_with_http_info(p.pk, put), ProxyProvider, "PUT providers/proxy/{pk}/")
        _, raw = c.read(lambda: c.providers.providers_proxy_partial_update_with_http_info(p.pk, PatchedProxyProviderRequest(mode="forward_domain", cookie_domain="example.test")), ProxyProvider, "PATCH providers/proxy/{pk}/")
        assert raw["mode"] == "forward_domain", raw
        assert [u["url"] for u in raw["redirect_uris"]] == [
            "https://contract.example.test/outpost.goauthentik.io/callback?X-authentik-auth-callback=true",
            "https://contract.example.test?X-authentik-auth-callback=true",
        ], raw
        _, fd = c.read(lambda: c.providers.providers_proxy_list_with_http_info(mode__iexact="FORWARD_DOMAIN"), PaginatedProxyProviderList, "GET providers/proxy/?mode__iexact=")
        assert [r["pk"] for r in fd["results"]] == [p.pk], fd
        c.read(lambda: c.providers.providers_proxy_partial_update_with_http_info(p.pk, PatchedProxyProviderRequest(mode="forward_single", cookie_domain="")), ProxyProvider, "PATCH providers/proxy/{pk}/ back")
        c.every_page(c.providers.providers_proxy_list_with_http_info, PaginatedProxyProviderList, "GET providers/proxy/")

    def application():
        a, raw = c.read(lambda: c.core.core_applications_create_with_http_info(ApplicationRequest(name="Contract", slug="contract-app", provider=m["provider"], policy_engine_mode="any")), Application, "POST core/applications/", 201)
        m["app"] = str(a.pk)
        assert raw["provider_obj"]["pk"] == m["provider"] and raw["launch_url"] == "https://contract.example.test", raw
        c.read(lambda: c.core.core_applications_retrieve_with_http_info("contract-app"), Application, "GET core/applications/{slug}/")
        c.read(lambda: c.core.core_applications_update_with_http_info("contract-app", ApplicationRequest(name="Contract", slug="contract-app", provider=m["provider"], meta_launch_url="https://contract.example.test/home")), Application, "PUT core/applications/{slug}/")
        c.read(lambda: c.core.core_applications_partial_update_with_http_info("contract-app", PatchedApplicationRequest(policy_engine_mode="all")), Application, "PATCH core/applications/{slug}/")
        _, raw = c.read(lambda: c.providers.providers_proxy_retrieve_with_http_info(m["provider"]), ProxyProvider, "GET providers/proxy/{pk}/ (assigned)")
        assert raw["assigned_application_slug"] == "contract-app", raw
        c.every_page(c.core.core_applications_list_with_http_info, PaginatedApplicationList, "GET core/applications/")

    def policy_and_bindings():
        pol, _ = c.read(lambda: c.policies.policies_expression_create_with_http_info(ExpressionPolicyRequest(name="contract-policy", expression="return True")), ExpressionPolicy, "POST policies/expression/", 201)
        m["policy"] = str(pol.pk)
        c.read(lambda: c.policies.policies_expression_retrieve_with_http_info(m["policy"]), ExpressionPolicy, "GET policies/expression/{pk}/")
        c.read(lambda: c.policies.policies_expression_update_with_http_info(m["policy"], ExpressionPolicyRequest(name="contract-policy", expression="return request.user.username == 'akadmin'")), ExpressionPolicy, "PUT policies/expression/{pk}/")
        c.read(lambda: c.policies.policies_expression_partial_update_with_http_info(m["policy"], ak.PatchedExpressionPolicyRequest(execution_logging=True)), ExpressionPolicy, "PATCH policies/expression/{pk}/")
        _, byname = c.read(lambda: c.policies.policies_expression_list_with_http_info(name="contract-policy"), PaginatedExpressionPolicyList, "GET policies/expression/?name=")
        assert [r["pk"] for r in byname["results"]] == [m["policy"]], byname
        bindings = [
            PolicyBindingRequest(policy=m["policy"], target=m["app"], order=0),
            PolicyBindingRequest(group=m["parent"], target=m["app"], order=1, negate=True, timeout=30),
            PolicyBindingRequest(user=m["user"], target=m["app"], order=2, enabled=False),
        ]
        m["bindings"] = []
        for i, b in enumerate(bindings):
            got, raw = c.read(lambda b=b: c.policies.policies_bindings_create_with_http_info(b), PolicyBinding, f"POST policies/bindings/ [{i}]", 201)
            m["bindings"].append(str(got.pk))
        _, raw = c.read(lambda: c.policies.policies_bindings_retrieve_with_http_info(m["bindings"][0]), PolicyBinding, "GET policies/bindings/{pk}/")
        assert raw["policy_obj"]["bound_to"] == 1 and raw["group_obj"] is None, raw
        c.read(lambda: c.policies.policies_bindings_update_with_http_info(m["bindings"][1], PolicyBindingRequest(group=m["parent"], target=m["app"], order=5, negate=True)), PolicyBinding, "PUT policies/bindings/{pk}/")
        c.read(lambda: c.policies.policies_bindings_partial_update_with_http_info(m["bindings"][2], PatchedPolicyBindingRequest(target=m["app"], user=m["user"], order=-3)), PolicyBinding, "PATCH policies/bindings/{pk}/")
        rows = c.every_page(lambda **kw: c.policies.policies_bindings_list_with_http_info(target=m["app"], **kw), PaginatedPolicyBindingList, "GET policies/bindings/?target=")
        assert [r["order"] for r in rows] == [-3, 0, 5], [r["order"] for r in rows]
        _, pol_only = c.read(lambda: c.policies.policies_bindings_list_with_http_info(policy=m["policy"]), PaginatedPolicyBindingList, "GET policies/bindings/?policy=")
        assert [r["pk"] for r in pol_only["results"]] == [m["bindings"][0]], pol_only
        _, en = c.read(lambda: c.policies.policies_bindings_list_with_http_info(target=m["app"], enabled=False), PaginatedPolicyBindingList, "GET policies/bindings/?enabled=false")
        assert [r["pk"] for r in en["results"]] == [m["bindings"][2]], en

    def check_access():
        akadmin = next(u for u in c.every_page(c.core.core_users_list_with_http_info, PaginatedUserList, "GET core/users/") if u["username"] == "akadmin")
        # Mode all: the policy (akadmin) and the negated group binding
        # (not in contract-parent) pass for akadmin; the disabled user
        # binding is not evaluated.
        r, raw = c.read(lambda: c.core.core_applications_check_access_retrieve_with_http_info("contract-app", for_user=akadmin["pk"]), PolicyTestResult, "GET core/applications/{slug}/check_access/")
        assert r.passing is True, raw
        r, raw = c.read(lambda: c.core.core_applications_check_access_retrieve_with_http_info("contract-app", for_user=m["user"]), PolicyTestResult, "GET check_access/ (member of a child group)")
        assert r.passing is False, raw

    def outposts():
        rows = c.every_page(c.outposts.outposts_instances_list_with_http_info, PaginatedOutpostList, "GET outposts/instances/")
        embedded = next(o for o in rows if o["managed"] == "goauthentik.io/outposts/embedded")
        m["embedded"] = embedded["pk"]
        _, raw = c.read(lambda: c.outposts.outposts_instances_partial_update_with_http_info(embedded["pk"], PatchedOutpostRequest(providers=[m["provider"]])), Outpost, "PATCH outposts/instances/{pk}/")
        assert raw["providers"] == [m["provider"]] and raw["providers_obj"][0]["pk"] == m["provider"], raw
        _, raw = c.read(lambda: c.providers.providers_proxy_retrieve_with_http_info(m["provider"]), ProxyProvider, "GET providers/proxy/{pk}/ (outpost_set)")
        assert raw["outpost_set"] == ["Outpost authentik Embedded Outpost"], raw
        o, _ = c.read(lambda: c.outposts.outposts_instances_create_with_http_info(OutpostRequest(name="contract-outpost", type="proxy", providers=[m["provider"]], config={"authentik_host": "https://ak.example.test"})), Outpost, "POST outposts/instances/", 201)
        c.read(lambda: c.outposts.outposts_instances_retrieve_with_http_info(str(o.pk)), Outpost, "GET outposts/instances/{pk}/")
        c.read(lambda: c.outposts.outposts_instances_update_with_http_info(str(o.pk), OutpostRequest(name="contract-outpost", type="proxy", providers=[m["provider"]], config={})), Outpost, "PUT outposts/instances/{pk}/")
        # `name` is not a filter of OutpostViewSet: every outpost comes back.
        _, all_ = c.read(lambda: c.outposts.outposts_instances_list_with_http_info(), PaginatedOutpostList, "GET outposts/instances/")
        st, ignored = c.raw("GET", "outposts/instances/?name=contract-outpost")
        assert st == 200 and ignored["pagination"]["count"] == all_["pagination"]["count"] == 2, ignored
        _, one = c.read(lambda: c.outposts.outposts_instances_list_with_http_info(name__iexact="CONTRACT-OUTPOST"), PaginatedOutpostList, "GET outposts/instances/?name__iexact=")
        assert [r["pk"] for r in one["results"]] == [str(o.pk)], one
        r = c.outposts.outposts_instances_destroy_with_http_info(str(o.pk))
        assert r.status_code == 204, r.status_code

    def deletes():
        for pk in m["bindings"]:
            assert c.policies.policies_bindings_destroy_with_http_info(pk).status_code == 204
        assert c.policies.policies_expression_destroy_with_http_info(m["policy"]).status_code == 204
        assert c.core.core_applications_destroy_with_http_info("contract-app").status_code == 204
        assert c.providers.providers_proxy_destroy_with_http_info(m["provider"]).status_code == 204
        assert c.core.core_users_destroy_with_http_info(m["user"]).status_code == 204
        for g in (m["child"], m["parent"]):
            assert c.core.core_groups_destroy_with_http_info(g).status_code == 204
        _, raw = c.read(lambda: c.outposts.outposts_instances_retrieve_with_http_info(m["embedded"]), Outpost, "GET embedded outpost after the provider's delete")
        assert raw["providers"] == [], raw

    for name, fn in [
        ("flows/instances: list (every page), retrieve, flow_uuid filter", flows),
        ("core/groups, core/users: create (parents), retrieve, PATCH, list", groups_and_users),
        ("providers/proxy: create, retrieve, PUT, PATCH, mode__iexact filter, list", proxy_provider),
        ("core/applications: create, retrieve, PUT, PATCH, list", application),
        ("policies/expression, policies/bindings: create, retrieve, PUT, PATCH, target/policy/enabled filters, list", policy_and_bindings),
        ("core/applications/{slug}/check_access/: PolicyTestResult", check_access),
        ("outposts/instances: list, PATCH, create, retrieve, PUT, name ignored, name__iexact, delete", outposts),
    ]:
        case(name, fn)

    valid_provider = {"name": "bad", "authorization_flow": m.get("authz"), "invalidation_flow": m.get("inval"), "external_host": "https://bad.example.test", "mode": "forward_single"}
    missing = "6a1b0c2d-3e4f-4a5b-8c6d-00000000ffff"
    rejected = [
        # (what, method, path, body, status, field, message or None)
        ("slug outside ^[-a-zA-Z0-9_]+$", "POST", "core/applications/", {"name": "x", "slug": "a.b"}, 400, "slug",
         "Enter a valid \u201cslug\u201d consisting of letters, numbers, underscores or hyphens."),
        ("slug with a space", "POST", "core/applications/", {"name": "x", "slug": "a b"}, 400, "slug", None),
        ("empty slug", "POST", "core/applications/", {"name": "x", "slug": ""}, 400, "slug", "This field may not be blank."),
        ("empty access_token_validity", "POST", "providers/proxy/", {**valid_provider, "access_token_validity": ""}, 400,
         "access_token_validity", "This field may not be blank."),
        ("access_token_validity without '='", "POST", "providers/proxy/", {**valid_provider, "access_token_validity": "24h"}, 400,
         "access_token_validity", "24h is not in the correct format of 'hours=3;minutes=1'."),
        ("access_token_validity with no known unit", "POST", "providers/proxy/", {**valid_provider, "access_token_validity": "hour=1"}, 400,
         "access_token_validity", None),
        ("refresh_token_validity not a number", "POST", "providers/proxy/", {**valid_provider, "refresh_token_validity": "days=x"}, 400,
         "refresh_token_validity", None),
        ("mode proxy without internal_host", "POST", "providers/proxy/", {**valid_provider, "mode": "proxy"}, 400,
         "internal_host", "Internal host cannot be empty when forward auth is disabled."),
        ("mode omitted counts as proxy", "POST", "providers/proxy/", {k: v for k, v in valid_provider.items() if k != "mode"}, 400,
         "internal_host", None),
        ("unknown mode", "POST", "providers/proxy/", {**valid_provider, "mode": "forward_all"}, 400, "mode", "\"forward_all\" is not a valid choice."),
        ("empty external_host", "POST", "providers/proxy/", {**valid_provider, "external_host": ""}, 400, "external_host", "This field may not be blank."),
        ("external_host not a URL", "POST", "providers/proxy/", {**valid_provider, "external_host": "https://exa mple.com"}, 400, "external_host", "Enter a valid URL."),
        ("external_host without a scheme", "POST", "providers/proxy/", {**valid_provider, "external_host": "grafana.example.com"}, 400, "external_host", "Enter a valid URL."),
        ("basic auth without attributes", "POST", "providers/proxy/", {**valid_provider, "basic_auth_enabled": True}, 400, "basic_auth_enabled", None),
        ("binding order above int32", "POST", "policies/bindings/", {"group": missing, "target": missing, "order": 2147483648}, 400, "order",
         "Ensure this value is less than or equal to 2147483647."),
        ("binding timeout below 0", "POST", "policies/bindings/", {"group": missing, "target": missing, "order": 0, "timeout": -1}, 400, "timeout",
         "Ensure this value is greater than or equal to 0."),
        ("binding with a null target", "POST", "policies/bindings/", {"target": None, "order": 0}, 400, "target", "This field may not be null."),
        ("binding with no policy, group or user", "POST", "policies/bindings/", {"target": m.get("app"), "order": 0}, 400, "non_field_errors",
         "One of 'policy', 'group', 'user' must be set."),
        ("binding with a group and a user", "POST", "policies/bindings/", {"target": m.get("app"), "group": m.get("parent"), "user": m.get("user"), "order": 0},
         400, "non_field_errors", "Only one of 'policy', 'group', 'user' can be set."),
        ("application slug taken", "POST", "core/applications/", {"name": "x", "slug": "contract-app"}, 400, "slug", None),
        ("group binding to a missing group", "POST", "policies/bindings/", {"group": missing, "target": missing, "order": 0}, 400, "group", None),
        ("outpost with no providers", "POST", "outposts/instances/", {"name": "o", "type": "proxy", "providers": [], "config": {}}, 400, "providers",
         "This list may not be empty."),
        ("empty policy expression", "POST", "policies/expression/", {"name": "p", "expression": ""}, 400, "expression", "This field may not be blank."),
        ("list filter with a missing target", "GET", f"policies/bindings/?target={missing}", None, 400, "target", None),
        ("page past the last", "GET", "core/groups/?page=99", None, 404, None, "Invalid page."),
        ("retrieve of a missing application", "GET", "core/applications/no-such-app/", None, 404, None, "No Application matches the given query."),
        ("check_access for a missing user", "GET", "core/applications/contract-app/check_access/?for_user=99999", None, 400, "for_user", None),
        ("check_access of a missing application", "GET", "core/applications/no-such-app/check_access/", None, 404, None, None),
    ]

    def refused(method, path, body, status, field, message):
        def run():
            st, got = c.raw(method, path, body)
            if st != status:
                raise ContractError(f"status {st}, expected {status}: {got}")
            if status == 400:
                validation_error(got, path)
                if field not in got:
                    raise ContractError(f"no error on {field!r}: {got}")
                if message is not None and message not in got[field]:
                    raise ContractError(f"{field}: {got[field]!r}, expected {message!r}")
            else:
                # DRF sends `detail` only; `code` is optional in the schema.
                strict(GenericError, got, path, optional_may_be_absent=True)
                if message is not None and got["detail"] != message:
                    raise ContractError(f"detail {got['detail']!r}, expected {message!r}")

        return run

    for what, method, path, body, status, field, message in rejected:
        case(f"rejected: {what} → {status}", refused(method, path, body, status, field, message))

    def unauthenticated():
        bad = Contract(base, "not-a-token")
        st, got = bad.raw("GET", "core/groups/")
        assert st == 401, st
        strict(GenericError, got, "401", optional_may_be_absent=True)

    case("rejected: an unknown token → 401 GenericError", unauthenticated)
    case("DELETE of everything made (cascades)", deletes)

    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
