"""Checks the Python client that openapi-python-client generated from spec/openapi.yaml.

Run by `cargo xtask spec-clients` (imports) and `cargo xtask contract` (a call against the Prism
mock), with the generated project's folder on sys.path:

    python check_client.py <generated project dir> <tag>/<operation_id>... [--base-url URL]

It imports the package and the module of every operation given; with --base-url it also calls
reserve_get there and checks the typed response.
"""

import argparse
import importlib
import sys

PACKAGE = "vc_api_client"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("project_dir")
    parser.add_argument("operations", nargs="+", help="tag/operation_id")
    parser.add_argument("--base-url")
    args = parser.parse_args()
    sys.path.insert(0, args.project_dir)

    package = importlib.import_module(PACKAGE)
    missing = []
    for operation in args.operations:
        tag, operation_id = operation.split("/")
        try:
            module = importlib.import_module(f"{PACKAGE}.api.{tag}.{operation_id}")
        except ImportError as error:
            missing.append(f"{operation}: {error}")
            continue
        for function in ("sync", "sync_detailed", "asyncio", "asyncio_detailed"):
            if not callable(getattr(module, function, None)):
                missing.append(f"{operation}: no {function}()")
    if missing:
        print("python client: operations missing or incomplete:\n  " + "\n  ".join(missing))
        return 1
    print(f"python client: imported {package.__name__} and {len(args.operations)} operation modules")

    if args.base_url:
        from vc_api_client import AuthenticatedClient
        from vc_api_client.api.reserve import reserve_get
        from vc_api_client.models import ReserveGetResponse, UserIdType

        client = AuthenticatedClient(base_url=args.base_url, token="t-contract-token")
        response = reserve_get.sync_detailed(
            "6911188411934973028", client=client, user_id_type=UserIdType.OPEN_ID
        )
        parsed = response.parsed
        if response.status_code != 200 or not isinstance(parsed, ReserveGetResponse):
            print(f"python client: reserve_get failed: {response.status_code} {response.content!r}")
            return 1
        if parsed.code != 0 or not parsed.data or not parsed.data.reserve or not parsed.data.reserve.id:
            print(f"python client: reserve_get returned an unexpected body: {parsed!r}")
            return 1
        print(f"python client: reserve_get against {args.base_url} returned reserve {parsed.data.reserve.id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
