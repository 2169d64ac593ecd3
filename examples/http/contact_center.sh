#!/usr/bin/env bash
# The contact-center call flow's data dip as plain HTTP steps, as a flow designer's HTTP node sends
# them: look up the caller's number, read the open case, post the call's comment onto it, and
# update the case. Only curl speaks to sfgate; python3 reads the JSON answers.
#
#   SFGATE_URL=http://127.0.0.1:50051 SFGATE_API_KEY=<key> examples/http/contact_center.sh
#   (SFGATE_TENANT, default sandbox; CALLER, default "+1 (415) 555-0143")
set -euo pipefail
url=${SFGATE_URL:-http://127.0.0.1:50051}
tenant=${SFGATE_TENANT:-sandbox}
caller=${CALLER:-+1 (415) 555-0143}
headers=(-H "x-tenant-id: $tenant" -H "authorization: Bearer ${SFGATE_API_KEY:?set SFGATE_API_KEY}"
         -H "content-type: application/json" -H "x-request-timeout: 5s")
field() { python3 -c 'import json, sys; value = json.load(sys.stdin)
for key in sys.argv[1].split("."): value = value[int(key)] if key.isdigit() else value[key]
print(value)' "$1"; }
call_id="call-$(date +%s)"

# 1. Who is calling: accounts, contacts and their open cases for the number, in any written form.
number=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$caller")
found=$(curl -sS --fail-with-body "${headers[@]}" "$url/v1/lookup/phone/$number")
case_id=$(field openCases.0.id <<<"$found")
echo "caller $(field e164 <<<"$found"): open case $case_id"

# 2. The case the agent's screen pops.
case=$(curl -sS --fail-with-body "${headers[@]}" "$url/v1/cases/$case_id?fields=caseNumber,subject,status")
echo "case $(field caseNumber <<<"$case"): $(field subject <<<"$case") ($(field status <<<"$case"))"

# 3. After the call: the agent's note on the case, then its status.
comment=$(curl -sS --fail-with-body "${headers[@]}" -d "{\"body\": \"$call_id: caller confirmed the refund\"}" \
    "$url/v1/cases/$case_id/comments")
echo "comment $(field id <<<"$comment") added"
updated=$(curl -sS --fail-with-body "${headers[@]}" -X PATCH \
    -d "{\"status\": \"Working\", \"description\": \"Last call: $call_id\"}" \
    "$url/v1/cases/$case_id?updateMask=status,description")
echo "case $(field caseNumber <<<"$updated") is now $(field status <<<"$updated")"
[ "$(field status <<<"$updated")" = Working ]
