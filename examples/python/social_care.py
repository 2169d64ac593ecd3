#!/usr/bin/env python3
"""The social-care inbox flow through services generated from the org's own schema.

A conversation comes in on a social network: the inbox finds the customer's contact persona (the
custom object Hootsuite_Contact_Persona__c) by its contact profile ID, creates it when it is new,
and opens a Case linked to it with the integration's fields (conversation ID, social network, the
agent who created it). Every call is typed: the stubs come from the .proto `sfgate schema` wrote.

    # 1. generate (here from the embedded sandbox org; with --config and --tenant for a real one)
    cargo run --release -- schema --object Hootsuite_Contact_Persona__c --object Case \\
        --package acme.v1 --out examples/schemas/acme/v1/social_care.proto
    # 2. serve it (a real deployment lists it under [[schemas]] in sfgate.toml)
    cargo run --release -- --schema examples/schemas/acme/v1/social_care.proto
    # 3. call it
    pip install grpcio grpcio-tools
    SFGATE_API_KEY=<key> python3 examples/python/social_care.py

The stubs are generated into a temporary folder at start, from the schema file and proto/.
"""

import argparse
import os
import pathlib
import sys
import tempfile
import uuid

import grpc
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parents[2]


def generate_stubs(schema: pathlib.Path) -> None:
    """Compiles the schema file, and what it imports from proto/, into Python modules."""
    out = pathlib.Path(tempfile.mkdtemp(prefix="sfgate-schema-stubs-"))
    schema_root = schema.parents[2]  # acme/v1/social_care.proto -> its import root
    well_known = pathlib.Path(protoc.__file__).parent / "_proto"
    files = [
        str(schema.relative_to(schema_root)),
        "sfgate/v1/schema.proto",
        "google/api/annotations.proto",
        "google/api/http.proto",
    ]
    status = protoc.main(
        [
            "protoc",
            f"-I{schema_root}",
            f"-I{ROOT / 'proto'}",
            f"-I{well_known}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            *files,
        ]
    )
    if status != 0:
        sys.exit(f"protoc failed ({status})")
    sys.path.insert(0, str(out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default=os.environ.get("SFGATE_ADDRESS", "127.0.0.1:50051"))
    parser.add_argument("--tenant", default=os.environ.get("SFGATE_TENANT", "sandbox"))
    parser.add_argument("--api-key", default=os.environ.get("SFGATE_API_KEY"))
    parser.add_argument("--schema", default=str(ROOT / "examples/schemas/acme/v1/social_care.proto"))
    parser.add_argument("--profile-id", default=f"HS-{uuid.uuid4().hex[:10]}", help="the contact's Hootsuite ID")
    args = parser.parse_args()
    if not args.api_key:
        sys.exit("set SFGATE_API_KEY (printed by `cargo run --release`) or pass --api-key")

    generate_stubs(pathlib.Path(args.schema).resolve())
    from acme.v1 import social_care_pb2 as acme, social_care_pb2_grpc as acme_grpc

    metadata = [("x-tenant-id", args.tenant), ("authorization", f"Bearer {args.api_key}")]
    with grpc.insecure_channel(args.address) as channel:
        personas = acme_grpc.HootsuiteContactPersonaServiceStub(channel)
        cases = acme_grpc.CaseServiceStub(channel)

        # 1. The customer's persona, by contact profile ID; created when it is new.
        found = personas.FindHootsuiteContactPersonas(
            acme.FindHootsuiteContactPersonasRequest(contact_profile_id=args.profile_id), metadata=metadata
        )
        if found.hootsuite_contact_personas:
            persona = found.hootsuite_contact_personas[0]
        else:
            persona = personas.CreateHootsuiteContactPersona(
                acme.CreateHootsuiteContactPersonaRequest(
                    hootsuite_contact_persona=acme.HootsuiteContactPersona(
                        name="Twitter - @alice_ships",  # [social network] - [primary identifier]
                        contact_profile_id=args.profile_id,
                        primary_identifier="@alice_ships",
                        secondary_identifier="Alice Ships",
                        email="alice@example.com",
                        social_network="Twitter",
                        language="en",
                        profile_url="https://twitter.example/alice_ships",
                        vip=True,
                    )
                ),
                # A retry of this create with the same key never makes a second persona.
                metadata=metadata + [("idempotency-key", str(uuid.uuid4()))],
            )
        print(f"persona {persona.id} ({persona.name}), VIP: {persona.vip}")

        # 2. The Case of the conversation, linked to the persona.
        case = cases.CreateCase(
            acme.CreateCaseRequest(
                case=acme.Case(
                    subject="Order never arrived",
                    origin="Social",
                    priority="High",
                    status="New",
                    conversation_id=f"conv-{uuid.uuid4().hex[:8]}",
                    social_network=persona.social_network,
                    created_from_hootsuite_by_email="agent@example.com",
                    created_from_hootsuite_by_id="hs-agent-9",
                    hootsuite_contact_persona=persona.id,
                )
            ),
            metadata=metadata + [("idempotency-key", str(uuid.uuid4()))],
        )
        print(f"case {case.case_number} ({case.id}) for persona {case.hootsuite_contact_persona}: {case.url}")

        # 3. The next message finds the same persona.
        again = personas.FindHootsuiteContactPersonas(
            acme.FindHootsuiteContactPersonasRequest(contact_profile_id=args.profile_id), metadata=metadata
        )
        ids = [found_persona.id for found_persona in again.hootsuite_contact_personas]
        if ids != [persona.id]:
            sys.exit(f"expected persona {persona.id} by its contact profile ID, found {ids}")
        if case.hootsuite_contact_persona != persona.id:
            sys.exit(f"the case is linked to {case.hootsuite_contact_persona}, not {persona.id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
