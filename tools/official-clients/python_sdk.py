"""The official Python SDK (lark-oapi) against vc-mock: every operation of the spec the SDK has,
called through its typed `client.vc.v1.<resource>.<method>(request)` with a request built by
the SDK's own builders from the spec's examples.

Run by `cargo xtask official-clients` with the environment:
  SPEC_JSON    spec/openapi.yaml converted to JSON
  VC_MOCK_URL  the base URL of a running vc-mock
  APP_ID, APP_SECRET, USER_TOKEN  what vc-mock accepts
  REPORT       where to write the JSON report {sdk, ok, failed, missing}
"""

import inspect
import json
import os
from importlib.metadata import version

import lark_oapi as lark

METHODS = ("get", "put", "post", "delete", "patch")


def load_spec():
    with open(os.environ["SPEC_JSON"], encoding="utf-8") as f:
        return json.load(f)


def resolve(spec, value):
    for _ in range(32):
        if not isinstance(value, dict) or "$ref" not in value:
            return value
        node = spec
        for key in value["$ref"].lstrip("#/").split("/"):
            node = node[key]
        value = node
    return value


def spec_operations(spec):
    """(id, key, parameters, body example, download?, user only?) for every operation."""
    out = []
    for route, item in spec["paths"].items():
        shared = [resolve(spec, p) for p in item.get("parameters", [])]
        for method in METHODS:
            op = item.get(method)
            if not op or "operationId" not in op:
                continue
            params = {p["name"]: p for p in shared + [resolve(spec, p) for p in op.get("parameters", [])]}
            body = resolve(spec, op.get("requestBody")) or {}
            example = body.get("content", {}).get("application/json", {}).get("example")
            ok = resolve(spec, op["responses"].get("200")) or {}
            security = op.get("security", spec.get("security", []))
            out.append({
                "id": op["operationId"],
                "key": f"{method.upper()} {route}",
                "params": list(params.values()),
                "body": example,
                "download": "application/json" not in ok.get("content", {}),
                "user_only": not any("tenant_access_token" in s for s in security),
            })
    return out


def sdk_routes(v1):
    """The SDK's typed methods by `METHOD /path/{param}`, from each request builder's own
    http_method and uri."""
    routes = {}
    for resource_name, resource in vars(v1).items():
        if resource_name.startswith("_"):
            continue
        for name, fn in inspect.getmembers(resource, inspect.ismethod):
            if name.startswith("_") or (name.startswith("a") and hasattr(resource, name[1:])):
                continue  # private, or the async twin of a method
            request_type = inspect.signature(fn).parameters.get("request")
            if request_type is None or not hasattr(request_type.annotation, "builder"):
                continue
            built = request_type.annotation.builder().build()
            uri = built.uri
            for part in uri.split("/"):
                if part.startswith(":"):
                    uri = uri.replace(part, "{" + part[1:] + "}")
            routes[f"{built.http_method.name} {uri}"] = (resource_name, name, request_type.annotation)
    return routes


def build_request(op, request_type):
    builder = request_type.builder()
    for param in op["params"]:
        if "example" not in param:
            continue
        setter = getattr(builder, param["name"], None)
        if setter is None:
            raise LookupError(f"the request builder has no setter for parameter {param['name']}")
        setter(param["example"])
    if op["body"] is not None:
        setter = getattr(builder, "request_body", None)
        if setter is None:
            raise LookupError("the request builder takes no request body")
        body_type = inspect.signature(setter).parameters["request_body"].annotation
        setter(body_type(op["body"]))
    return builder.build()


def main():
    spec = load_spec()
    client = (
        lark.Client.builder()
        .app_id(os.environ["APP_ID"])
        .app_secret(os.environ["APP_SECRET"])
        .domain(os.environ["VC_MOCK_URL"])
        .enable_set_token(True)
        .log_level(lark.LogLevel.ERROR)
        .build()
    )
    routes = sdk_routes(client.vc.v1)
    as_user = lark.RequestOption.builder().user_access_token(os.environ["USER_TOKEN"]).build()
    report = {"sdk": version("lark-oapi"), "ok": [], "failed": [], "missing": []}
    for op in spec_operations(spec):
        found = routes.get(op["key"])
        if found is None:
            report["missing"].append(op["id"])
            continue
        resource, name, request_type = found
        label = f"{op['id']} (client.vc.v1.{resource}.{name})"
        try:
            request = build_request(op, request_type)
            method = getattr(getattr(client.vc.v1, resource), name)
            response = method(request, as_user) if op["user_only"] else method(request)
            if op["download"]:
                good = response.success() and response.file is not None and len(response.file.read()) > 0
            else:
                good = response.code == 0
            if good:
                report["ok"].append(label)
            else:
                report["failed"].append({"op": label, "error": f"code {response.code}: {response.msg}"})
        except Exception as e:  # one broken operation must not hide the others
            report["failed"].append({"op": label, "error": f"{type(e).__name__}: {e}"})
    with open(os.environ["REPORT"], "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
