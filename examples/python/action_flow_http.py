"""The ticketing action flow's steps over sfgate's HTTP/JSON, with Python `requests` only, as an
"external action" of a workflow engine calls them: create a lead, find it, update it with a field
mask, convert it, then create and delete a scratch contact.

    SFGATE_URL=http://127.0.0.1:50051 SFGATE_API_KEY=<key> python3 examples/python/action_flow_http.py
"""

import os
import sys
import time

import requests

URL = os.environ.get("SFGATE_URL", "http://127.0.0.1:50051")
SESSION = requests.Session()
SESSION.headers.update(
    {
        "x-tenant-id": os.environ.get("SFGATE_TENANT", "sandbox"),
        "authorization": f"Bearer {os.environ['SFGATE_API_KEY']}",
        "x-request-timeout": "5s",
    }
)


def call(method, path, **kwargs):
    """One step; a failure prints sfgate's AIP-193 error body and stops the flow."""
    response = SESSION.request(method, URL + path, timeout=10, **kwargs)
    if not response.ok:
        error = response.json()["error"]
        sys.exit(f"{method} {path}: HTTP {response.status_code} {error['status']}: {error['message']}")
    return response.json()


def main():
    stamp = int(time.time())
    lead = call(
        "POST",
        "/v1/leads",
        json={"firstName": "Dana", "lastName": f"Okoro-{stamp}", "company": "Tidewater Supply", "email": f"dana.{stamp}@example.com"},
        headers={"idempotency-key": f"action-flow-{stamp}"},
    )
    print(f"created lead {lead['id']}")
    found = call("GET", "/v1/leads:find", params={"email": f"dana.{stamp}@example.com"})
    assert [item["id"] for item in found["leads"]] == [lead["id"]], found
    updated = call("PATCH", f"/v1/leads/{lead['id']}", params={"updateMask": "title,leadSource"}, json={"title": "Buyer", "leadSource": "Web"})
    assert updated["title"] == "Buyer", updated
    converted = call("POST", f"/v1/leads/{lead['id']}:convert", json={"doNotCreateOpportunity": True})
    print(f"converted into account {converted['accountId']} and contact {converted['contactId']}")
    scratch = call("POST", "/v1/contacts", json={"lastName": f"Scratch-{stamp}"})
    call("DELETE", f"/v1/contacts/{scratch['id']}")
    print(f"created and deleted contact {scratch['id']}")


if __name__ == "__main__":
    main()
