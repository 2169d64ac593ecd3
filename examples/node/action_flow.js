// An action-flow sequence through sfgate, as a ticketing workflow runs it:
// find a lead -> convert it -> update the opportunity it became.
//
//   npm install --no-package-lock --prefix examples/node
//   SFGATE_API_KEY=<key printed by `cargo run --release`> node examples/node/action_flow.js
//
// The service definitions are loaded from proto/ at start with @grpc/proto-loader.

const path = require("node:path");
const crypto = require("node:crypto");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const address = process.env.SFGATE_ADDRESS || "127.0.0.1:50051";
const tenant = process.env.SFGATE_TENANT || "sandbox";
const apiKey = process.env.SFGATE_API_KEY;
if (!apiKey) {
  console.error("set SFGATE_API_KEY (printed by `cargo run --release`)");
  process.exit(2);
}

const protoRoot = path.resolve(__dirname, "../../proto");
const definition = protoLoader.loadSync(
  ["sfgate/v1/lead_service.proto", "sfgate/v1/opportunity_service.proto"],
  { includeDirs: [protoRoot], keepCase: true, longs: String, enums: String, defaults: false, oneofs: true },
);
const sfgate = grpc.loadPackageDefinition(definition).sfgate.v1;
const credentials = grpc.credentials.createInsecure();
const leads = new sfgate.LeadService(address, credentials);
const opportunities = new sfgate.OpportunityService(address, credentials);

function metadata(idempotencyKey) {
  const md = new grpc.Metadata();
  md.set("x-tenant-id", tenant);
  md.set("authorization", `Bearer ${apiKey}`);
  if (idempotencyKey) md.set("idempotency-key", idempotencyKey);
  return md;
}

function call(client, method, request, md = metadata()) {
  return new Promise((resolve, reject) =>
    client[method](request, md, { deadline: Date.now() + 10_000 }, (error, response) =>
      error ? reject(new Error(`${method}: ${error.code} ${error.details}`)) : resolve(response),
    ),
  );
}

async function main() {
  // A lead to work on: created idempotently, so a retried workflow step cannot duplicate it.
  const email = `pat.quinn.${crypto.randomUUID().slice(0, 8)}@example.com`;
  const created = await call(
    leads,
    "CreateLead",
    { lead: { first_name: "Pat", last_name: "Quinn", company: "Quinn Freight", email } },
    metadata(`create-${email}`),
  );
  console.log(`lead ${created.id} created`);

  // 1. Find the lead.
  const found = await call(leads, "FindLeads", { email });
  if (found.leads.length !== 1) throw new Error(`expected one lead, found ${found.leads.length}`);
  const lead = found.leads[0];
  console.log(`found lead ${lead.id} (${lead.first_name} ${lead.last_name}, ${lead.status})`);

  // 2. Convert it: account, contact and opportunity.
  const converted = await call(leads, "ConvertLead", { lead_id: lead.id, opportunity_name: "Quinn Freight - pilot" });
  console.log(`converted: account ${converted.account_id}, contact ${converted.contact_id}, opportunity ${converted.opportunity_id}`);

  // 3. Update the opportunity: stage and amount, and only those (field mask).
  const updated = await call(opportunities, "UpdateOpportunity", {
    opportunity: { id: converted.opportunity_id, stage_name: "Qualification", amount: 25000 },
    update_mask: { paths: ["stage_name", "amount"] },
  });
  console.log(`opportunity ${updated.id}: ${updated.stage_name}, ${updated.amount}, screen pop ${updated.url}`);
  if (updated.stage_name !== "Qualification" || updated.amount !== 25000) throw new Error("the update did not apply");
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error.message);
    process.exit(1);
  },
);
