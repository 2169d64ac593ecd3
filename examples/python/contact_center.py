#!/usr/bin/env python3
"""The contact-center flow through sfgate, as an IVR or agent desktop runs it.

1. Data dip: the caller's number (ANI) -> accounts, contacts and open cases (LookupService).
2. Route: a caller with an open case goes to that case's queue; others to new business.
3. After the call: post the call notes on the case (AddCaseComment) and record the call id and
   the new status on it (UpdateCase with a field mask).

Run against `cargo run --release` (it prints the API key):

    pip install grpcio grpcio-tools
    SFGATE_API_KEY=<key> python3 examples/python/contact_center.py --phone "+1 (415) 555-0143"

The stubs are generated from proto/ into a temporary folder at start, so they always match.
"""

import argparse
import os
import pathlib
import sys
import tempfile
import uuid

import grpc
from grpc_tools import protoc


def generate_stubs() -> pathlib.Path:
    """Compiles proto/sfgate/v1/*.proto into Python modules in a temporary folder."""
    root = pathlib.Path(__file__).resolve().parents[2]
    out = pathlib.Path(tempfile.mkdtemp(prefix="sfgate-stubs-"))
    protos = sorted(str(path.relative_to(root / "proto")) for path in (root / "proto/sfgate/v1").glob("*.proto"))
    well_known = pathlib.Path(protoc.__file__).parent / "_proto"
    status = protoc.main(["protoc", f"-I{root / 'proto'}", f"-I{well_known}", f"--python_out={out}", f"--grpc_python_out={out}", *protos])
    if status != 0:
        sys.exit(f"protoc failed ({status})")
    sys.path.insert(0, str(out))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default=os.environ.get("SFGATE_ADDRESS", "127.0.0.1:50051"))
    parser.add_argument("--tenant", default=os.environ.get("SFGATE_TENANT", "sandbox"))
    parser.add_argument("--api-key", default=os.environ.get("SFGATE_API_KEY"))
    parser.add_argument("--phone", default="+1 (415) 555-0143")
    args = parser.parse_args()
    if not args.api_key:
        sys.exit("set SFGATE_API_KEY (printed by `cargo run --release`) or pass --api-key")

    generate_stubs()
    from google.protobuf import field_mask_pb2
    from sfgate.v1 import case_service_pb2, case_service_pb2_grpc, common_pb2, lookup_service_pb2, lookup_service_pb2_grpc

    metadata = [("x-tenant-id", args.tenant), ("authorization", f"Bearer {args.api_key}")]
    with grpc.insecure_channel(args.address) as channel:
        lookup = lookup_service_pb2_grpc.LookupServiceStub(channel)
        cases = case_service_pb2_grpc.CaseServiceStub(channel)

        # 1. Data dip on the caller's number.
        found = lookup.LookupByPhone(lookup_service_pb2.LookupByPhoneRequest(phone=args.phone), metadata=metadata, timeout=5)
        print(f"caller {found.e164}: {len(found.accounts)} account(s), {len(found.contacts)} contact(s), "
              f"{len(found.open_cases)} open case(s)")
        for contact in found.contacts:
            print(f"  contact {contact.first_name} {contact.last_name}  screen pop: {contact.url}")

        # 2. Route on the open case.
        if not found.open_cases:
            print("route: new business queue (no open case)")
            return 0
        case = found.open_cases[0]
        print(f"route: case {case.case_number} '{case.subject}' ({case.priority}) screen pop: {case.url}")

        # 3. After the call: notes on the case, then the call id and status.
        call_id = f"call-{uuid.uuid4()}"
        comment = cases.AddCaseComment(
            case_service_pb2.AddCaseCommentRequest(case_id=case.id, body=f"{call_id}: customer called about this case; agent followed up."),
            metadata=metadata,
            timeout=5,
        )
        print(f"comment {comment.id} added")
        updated = cases.UpdateCase(
            case_service_pb2.UpdateCaseRequest(
                case=common_pb2.Case(id=case.id, status="Working", description=f"Last call: {call_id}"),
                update_mask=field_mask_pb2.FieldMask(paths=["status", "description"]),
            ),
            metadata=metadata,
            timeout=5,
        )
        print(f"case {updated.case_number} is now {updated.status}")
        assert updated.status == "Working" and call_id in updated.description
    return 0


if __name__ == "__main__":
    sys.exit(main())
