"""Runs the SCIM compliance checker scim2-tester (PyPI) against a running
Portcullis: every check of every resource type, discovery included.

Usage: check_compliance.py BASE_URL TOKEN
Prints one line per check and exits non-zero if any is ERROR or CRITICAL.
"""

import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


def main() -> int:
    base, token = sys.argv[1], sys.argv[2]
    http = Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    client = SyncSCIMClient(http)
    results = check_server(client, raise_exceptions=False)
    bad = 0
    for r in results:
        status = r.status.name
        where = getattr(r, "resource_type", None) or "-"
        print(f"{status:10} {where:6} {r.title}: {r.reason or ''}".rstrip())
        if r.status in (Status.ERROR, Status.CRITICAL):
            bad += 1
    counts = {}
    for r in results:
        counts[r.status.name] = counts.get(r.status.name, 0) + 1
    print("summary:", ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return 1 if bad or not results else 0


if __name__ == "__main__":
    sys.exit(main())
