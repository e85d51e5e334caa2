"""Runs Authentik expression policies the way an Authentik server does.

Input (stdin): a JSON list of cases, each
  {"name": policy name, "expression": text,
   "user": {"pk": int, "username", "email", "name", "is_active", "groups": [names]},
   "obj": null | {"pk", "slug", "name", "provider": null | {"pk", "name",
                  "external_host", "mode", "cookie_domain"}},
   "http_request": null | {"method", "path", "headers": {name: value}, "query": {}},
   "context": {}}
Output (stdout): a JSON list of {"passing": bool, "messages": [str]}.

Written from these facts of goauthentik/authentik (our code, not theirs):
- authentik/policies/engine.py, PolicyEngine.__init__: request = PolicyRequest(user),
  request.obj = the PolicyBindingModel (the Application), request.set_http_request(the
  Django request of the view that asked).
- authentik/policies/views.py, PolicyAccessView.user_has_access (the OAuth2 authorize
  step a proxy provider's login goes through): PolicyEngine(self.application, user,
  self.request), so http_request is the browser's request to the Authentik host.
- authentik/policies/types.py, PolicyRequest: user, http_request, obj, context (dict),
  debug = False.
- authentik/policies/expression/evaluator.py, PolicyEvaluator: the context (passed as the
  handler's arguments) holds ak_message, ak_user_has_authenticator; set_policy_request adds
  ak_is_sso_flow, then (when there is an HTTP request) ak_client_ip and http_request, then
  request and context. evaluate(): an exception inside the expression gives
  PolicyResult(False, str(exc)); a None result fails; otherwise passing = bool(result).
- authentik/lib/expression/evaluator.py, BaseEvaluator: the globals (ak_is_group_member,
  regex_match, regex_replace, list_flatten, ip_address, ip_network, ...);
  wrap_expression() indents the text into `def handler(<context keys>):` and runs
  `result = handler(...)` with exec(code, globals, context); expr_is_group_member(user,
  **filters) = user.all_groups().filter(**filters).exists().
- authentik/core/models.py: User is Django's AbstractUser (django/contrib/auth/models.py),
  so request.user.pk is its integer primary key, also readable as id; username is unique,
  email is not (blank=True, no unique constraint).
  User.all_groups() = the user's groups plus their ancestors;
  Application.get_provider() = the application's provider as its concrete class
  (ProxyProvider has external_host, mode, cookie_domain).
- authentik/policies/process.py, PolicyProcess.execute: a PolicyException becomes
  PolicyResult(False, str(exception)).
Not modelled: Django ORM access beyond the attributes above, ak_call_policy, ak_create_event,
ak_send_email, requests, geoip context, the policy result cache.
"""

import ipaddress
import json
import re
import sys
from textwrap import indent


class Headers:
    """Django's HttpRequest.headers: a case-insensitive mapping."""

    def __init__(self, items):
        self._items = {str(k).lower(): (str(k), str(v)) for k, v in items.items()}

    def get(self, key, default=None):
        hit = self._items.get(str(key).lower())
        return hit[1] if hit else default

    def __getitem__(self, key):
        hit = self._items.get(str(key).lower())
        if hit is None:
            raise KeyError(key)
        return hit[1]

    def __contains__(self, key):
        return str(key).lower() in self._items

    def keys(self):
        return [k for k, _ in self._items.values()]

    def items(self):
        return list(self._items.values())


class HttpRequest:
    """The parts of a Django HttpRequest an expression reads."""

    def __init__(self, data):
        headers = data.get("headers") or {}
        self.method = data.get("method", "GET")
        self.path = data.get("path", "/")
        self.headers = Headers(headers)
        self.META = {
            "HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()
        }
        self.META["REMOTE_ADDR"] = data.get("remote_addr", "127.0.0.1")
        self.GET = dict(data.get("query") or {})

    def get_host(self):
        return self.headers.get("Host", "")


class GroupSet:
    """The QuerySet returned by User.all_groups(): filter(**fields).exists()."""

    def __init__(self, groups):
        self._groups = list(groups)

    def filter(self, **filters):
        for field in filters:
            if field != "name":
                raise ValueError(f"Cannot resolve keyword '{field}' into field.")
        return GroupSet(
            g for g in self._groups if all(g.get(f) == v for f, v in filters.items())
        )

    def exists(self):
        return bool(self._groups)

    def __iter__(self):
        return iter(self._groups)


class User:
    def __init__(self, data):
        self.pk = data.get("pk")
        self.id = self.pk
        self.username = data.get("username", "")
        self.email = data.get("email", "")
        self.name = data.get("name", "")
        self.is_active = data.get("is_active", True)
        self.attributes = data.get("attributes") or {}
        self._groups = [{"name": g} for g in data.get("groups") or []]

    def all_groups(self):
        return GroupSet(self._groups)

    def __str__(self):
        return self.username


class Provider:
    def __init__(self, data):
        for key, value in data.items():
            setattr(self, key, value)


class Application:
    def __init__(self, data):
        self.pk = data.get("pk")
        self.pbm_uuid = data.get("pk")
        self.slug = data.get("slug", "")
        self.name = data.get("name", "")
        self.meta_launch_url = data.get("meta_launch_url", "")
        self.policy_engine_mode = data.get("policy_engine_mode", "any")
        provider = data.get("provider")
        self.provider = Provider(provider) if provider is not None else None

    def get_provider(self):
        return self.provider

    def __str__(self):
        return self.name


class PolicyRequest:
    def __init__(self, user):
        self.user = user
        self.http_request = None
        self.obj = None
        self.context = {}
        self.debug = False


def is_group_member(user, **filters):
    return user.all_groups().filter(**filters).exists()


def list_flatten(value):
    if isinstance(value, list):
        return value[0] if value else None
    return value


GLOBALS = {
    "ak_is_group_member": is_group_member,
    "ip_address": ipaddress.ip_address,
    "ip_network": ipaddress.ip_network,
    "list_flatten": list_flatten,
    "regex_match": lambda value, regex: re.search(regex, value) is not None,
    "regex_replace": lambda value, regex, repl: re.sub(regex, repl, value),
}


def sanitize_arg(name):
    return re.sub(r"[:.-]", "_", name)


def evaluate(case):
    messages = []
    request = PolicyRequest(User(case["user"]))
    if case.get("obj") is not None:
        request.obj = Application(case["obj"])
    if case.get("http_request") is not None:
        request.http_request = HttpRequest(case["http_request"])
    request.context = dict(case.get("context") or {})
    context = {
        "ak_message": messages.append,
        "ak_user_has_authenticator": lambda user, device_type=None: False,
        "ak_is_sso_flow": request.context.get("is_sso", False),
    }
    if request.http_request is not None:
        context["ak_client_ip"] = ipaddress.ip_address(
            request.http_request.META["REMOTE_ADDR"]
        )
        context["http_request"] = request.http_request
    context["request"] = request
    context["context"] = request.context
    args = ",".join(sanitize_arg(k) for k in context)
    source = f"def handler({args}):\n" + indent(case["expression"], "    ")
    source += f"\nresult = handler({args})"
    try:
        code = compile(source, case.get("name") or "PolicyEvaluator", "exec")
        scope = {sanitize_arg(k): v for k, v in context.items()}
        exec(code, dict(GLOBALS), scope)
        result = scope["result"]
    except Exception as exc:  # the policy fails, with the error as its message
        return {"passing": False, "messages": [str(exc)]}
    return {"passing": bool(result) if result else False, "messages": messages}


def main():
    cases = json.load(sys.stdin)
    json.dump([evaluate(c) for c in cases], sys.stdout)


if __name__ == "__main__":
    main()
