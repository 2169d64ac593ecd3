//! Deterministic seed data: the org's users, lead statuses and record types always, and a
//! realistic set of sample business records when asked for.
//!
//! Phone numbers use the fictional 555-01xx range in mixed formats; emails use
//! example.com / example.org / example.net.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};

use super::schema::{self, LEAD_STATUSES};
use super::store::{self, Actor, Store};

/// Username of the integration user every token acts as.
pub(crate) const INTEGRATION_USERNAME: &str = "integration@sfgate-sandbox.example";
/// The organization's name.
pub(crate) const ORG_NAME: &str = "Sandbox Org";

/// Ids the org needs to know about its own seed.
#[derive(Debug, Clone)]
pub(crate) struct Seeded {
    pub(crate) org_id: String,
    pub(crate) integration_user: String,
}

/// Writes seed records with a fixed, advancing clock.
struct Seeder<'s> {
    store: &'s mut Store,
    clock: DateTime<Utc>,
    user: String,
}

impl Seeder<'_> {
    /// Creates a record from a JSON object of field values; returns its id.
    fn add(&mut self, object: &str, fields: Value) -> String {
        let Some(obj) = schema::object(object) else {
            tracing::error!(object, "seed: unknown object");
            return String::new();
        };
        let pairs: Vec<(&str, Value)> = fields
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.as_str(), v.clone())).collect())
            .unwrap_or_default();
        let input = store::system_input(obj, &pairs);
        self.clock += Duration::minutes(37);
        let actor = Actor {
            user_id: &self.user,
            now: self.clock,
            system: true,
        };
        match self.store.create(obj, input, actor) {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(object, error = ?e, "seed: record rejected");
                String::new()
            }
        }
    }

    fn add_all(&mut self, object: &str, rows: Vec<Value>) -> Vec<String> {
        rows.into_iter().map(|r| self.add(object, r)).collect()
    }
}

/// Loads the users, organization, lead statuses and record types, plus sample
/// data if `sample`.
pub(crate) fn load(store: &mut Store, sample: bool) -> Seeded {
    let start = Utc
        .with_ymd_and_hms(2025, 1, 6, 9, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let mut s = Seeder {
        store,
        clock: start,
        user: String::new(),
    };
    let integration_user = s.add(
        "User",
        json!({"Username": INTEGRATION_USERNAME, "FirstName": "Integration", "LastName": "User",
               "Email": "integration@sfgate-sandbox.example", "IsActive": true}),
    );
    s.user = integration_user.clone();
    fix_own_audit(&mut s, &integration_user);
    let agents = s.add_all(
        "User",
        vec![
            json!({"Username": "maria.lopez@sfgate-sandbox.example", "FirstName": "Maria", "LastName": "Lopez",
                   "Email": "maria.lopez@example.com", "IsActive": true}),
            json!({"Username": "devon.clarke@sfgate-sandbox.example", "FirstName": "Devon", "LastName": "Clarke",
                   "Email": "devon.clarke@example.com", "IsActive": true}),
        ],
    );
    let org_id = s.add(
        "Organization",
        json!({"Name": ORG_NAME, "OrganizationType": "Developer Edition", "InstanceName": "SBX1"}),
    );
    for (i, status) in LEAD_STATUSES.iter().enumerate() {
        s.add(
            "LeadStatus",
            json!({"MasterLabel": status, "ApiName": status, "SortOrder": i + 1,
                   "IsDefault": i == 0, "IsConverted": *status == "Closed - Converted"}),
        );
    }
    if sample {
        sample_data(&mut s, &agents);
    }
    // After the sample data, so the sample records keep their ids and dates.
    s.add_all("RecordType", record_types());
    Seeded {
        org_id,
        integration_user,
    }
}

/// The first user created itself.
fn fix_own_audit(s: &mut Seeder<'_>, user: &str) {
    let Some(obj) = schema::object("User") else {
        return;
    };
    let input = store::system_input(obj, &[("CreatedById", json!(user))]);
    let actor = Actor {
        user_id: user,
        now: s.clock,
        system: true,
    };
    if let Err(e) = s.store.update(obj, user, input, actor) {
        tracing::error!(error = ?e, "seed: integration user audit fields");
    }
}

fn sample_data(s: &mut Seeder<'_>, agents: &[String]) {
    let agent = |i: usize| {
        agents
            .get(i % agents.len().max(1))
            .cloned()
            .unwrap_or_default()
    };
    let accounts = s.add_all("Account", accounts());
    let acc = |i: usize| accounts.get(i).cloned().unwrap_or_default();
    let contacts = s.add_all("Contact", contacts(&acc));
    let con = |i: usize| contacts.get(i).cloned().unwrap_or_default();
    let campaigns = s.add_all("Campaign", campaigns());
    let camp = |i: usize| campaigns.get(i).cloned().unwrap_or_default();
    let opportunities = s.add_all("Opportunity", opportunities(&acc, &camp));
    s.add_all(
        "Lead",
        leads(&acc, &con, opportunities.first().cloned(), &agent),
    );
    let cases = s.add_all("Case", cases(&acc, &con, &agent));
    let case = |i: usize| cases.get(i).cloned().unwrap_or_default();
    s.add_all("CaseComment", case_comments(&case));
}

/// The org's record types: Case has a social-care inbox and a support queue.
fn record_types() -> Vec<Value> {
    vec![
        json!({"Name": "Social Care", "DeveloperName": "Social_Care", "SobjectType": "Case",
               "IsActive": true, "Description": "Cases from social networks (Hootsuite inbox)"}),
        json!({"Name": "Support", "DeveloperName": "Support", "SobjectType": "Case",
               "IsActive": true, "Description": "Standard support cases"}),
    ]
}

fn accounts() -> Vec<Value> {
    vec![
        json!({"Name": "Northwind Logistics", "AccountNumber": "NW-10442", "Type": "Customer - Direct",
               "Industry": "Manufacturing", "Phone": "(415) 555-0142", "Website": "https://northwind.example.com",
               "AnnualRevenue": 12_500_000.0, "NumberOfEmployees": 240, "BillingStreet": "100 Harbor Way",
               "BillingCity": "San Francisco", "BillingState": "CA", "BillingPostalCode": "94105",
               "BillingCountry": "United States", "External_Id__c": "ACC-1001",
               "Description": "Regional freight and warehousing partner."}),
        json!({"Name": "Bluebird Analytics", "AccountNumber": "BB-20871", "Type": "Prospect",
               "Industry": "Technology", "Phone": "+1 415 555 0199", "Website": "https://bluebird.example.com",
               "AnnualRevenue": 3_200_000.0, "NumberOfEmployees": 45, "BillingCity": "Oakland",
               "BillingState": "CA", "BillingCountry": "United States", "External_Id__c": "ACC-1002"}),
        json!({"Name": "Cedar & Pine Outfitters", "Type": "Customer - Channel", "Industry": "Retail",
               "Phone": "415.555.0100", "Website": "https://cedarpine.example.org",
               "AnnualRevenue": 8_750_000.0, "NumberOfEmployees": 130, "BillingCity": "Portland",
               "BillingState": "OR", "BillingCountry": "United States", "External_Id__c": "ACC-1003"}),
        json!({"Name": "Helios Health Partners", "Type": "Customer - Direct", "Industry": "Healthcare",
               "Phone": "(212) 555-0117", "Website": "https://helioshealth.example.org",
               "AnnualRevenue": 54_000_000.0, "NumberOfEmployees": 1200, "BillingCity": "New York",
               "BillingState": "NY", "BillingCountry": "United States", "External_Id__c": "ACC-1004"}),
        json!({"Name": "Quantum Ledger Finance", "Type": "Partner", "Industry": "Finance",
               "Phone": "212-555-0163", "Website": "https://quantumledger.example.com",
               "AnnualRevenue": 21_000_000.0, "NumberOfEmployees": 310, "BillingCity": "New York",
               "BillingState": "NY", "BillingCountry": "United States", "External_Id__c": "ACC-1005"}),
        json!({"Name": "Maple Grove Academy", "Type": "Customer - Direct", "Industry": "Education",
               "Phone": "+1 (617) 555-0128", "Website": "https://maplegrove.example.org",
               "NumberOfEmployees": 85, "BillingCity": "Boston", "BillingState": "MA",
               "BillingCountry": "United States", "External_Id__c": "ACC-1006"}),
        json!({"Name": "Silverline Media Group", "Type": "Prospect", "Industry": "Media",
               "Phone": "3105550176", "Website": "https://silverline.example.com",
               "AnnualRevenue": 6_400_000.0, "NumberOfEmployees": 72, "BillingCity": "Los Angeles",
               "BillingState": "CA", "BillingCountry": "United States", "External_Id__c": "ACC-1007"}),
        json!({"Name": "Redwood Telecom", "Type": "Other", "Industry": "Telecommunications",
               "Phone": "+1-206-555-0184", "Website": "https://redwoodtel.example.net",
               "AnnualRevenue": 98_000_000.0, "NumberOfEmployees": 2600, "BillingCity": "Seattle",
               "BillingState": "WA", "BillingCountry": "United States", "External_Id__c": "ACC-1008"}),
    ]
}

fn contacts(acc: &dyn Fn(usize) -> String) -> Vec<Value> {
    let c = |first: &str,
             last: &str,
             account: usize,
             title: &str,
             email: &str,
             phone: &str,
             mobile: Value,
             ext: &str,
             legacy: Value| {
        json!({"FirstName": first, "LastName": last, "AccountId": acc(account), "Title": title,
               "Email": email, "Phone": phone, "MobilePhone": mobile, "External_Id__c": ext,
               "Legacy_Id__c": legacy, "LeadSource": "Web"})
    };
    vec![
        c(
            "Alice",
            "Nguyen",
            0,
            "VP Operations",
            "alice.nguyen@example.com",
            "(415) 555-0143",
            json!("(415) 555-0150"),
            "CON-2001",
            json!("LEG-1"),
        ),
        c(
            "Brian",
            "O'Connor",
            0,
            "Logistics Manager",
            "brian.oconnor@example.com",
            "+1 415 555 0144",
            Value::Null,
            "CON-2002",
            json!("LEG-2"),
        ),
        c(
            "Chloe",
            "Martin",
            1,
            "CTO",
            "chloe.martin@example.com",
            "415.555.0191",
            json!("+1 (415) 555-0192"),
            "CON-2003",
            json!("LEG-3"),
        ),
        c(
            "Diego",
            "Ramirez",
            2,
            "Store Director",
            "diego.ramirez@example.org",
            "(503) 555-0110",
            json!("503-555-0111"),
            "CON-2004",
            json!("LEG-7"),
        ),
        c(
            "Emma",
            "Schultz",
            2,
            "Buyer",
            "emma.schultz@example.org",
            "503.555.0112",
            Value::Null,
            "CON-2005",
            json!("LEG-7"),
        ),
        c(
            "Farah",
            "Haddad",
            3,
            "Chief Medical Officer",
            "farah.haddad@example.org",
            "(212) 555-0118",
            json!("(212) 555-0119"),
            "CON-2006",
            Value::Null,
        ),
        c(
            "George",
            "Kim",
            3,
            "IT Director",
            "george.kim@example.org",
            "+1 212 555 0120",
            Value::Null,
            "CON-2007",
            Value::Null,
        ),
        c(
            "Hannah",
            "Becker",
            4,
            "Controller",
            "hannah.becker@example.com",
            "212-555-0164",
            json!("212-555-0165"),
            "CON-2008",
            Value::Null,
        ),
        c(
            "Ivan",
            "Petrov",
            5,
            "Head of Admissions",
            "ivan.petrov@example.org",
            "+1 (617) 555-0129",
            Value::Null,
            "CON-2009",
            Value::Null,
        ),
        c(
            "Julia",
            "Rossi",
            6,
            "Producer",
            "julia.rossi@example.com",
            "3105550177",
            json!("3105550178"),
            "CON-2010",
            Value::Null,
        ),
        c(
            "Kenji",
            "Watanabe",
            7,
            "Network Architect",
            "kenji.watanabe@example.net",
            "+1-206-555-0185",
            json!("+1-206-555-0186"),
            "CON-2011",
            Value::Null,
        ),
        c(
            "Lena",
            "Fischer",
            7,
            "Procurement Lead",
            "lena.fischer@example.net",
            "(206) 555-0187",
            Value::Null,
            "CON-2012",
            Value::Null,
        ),
    ]
}

fn campaigns() -> Vec<Value> {
    vec![
        json!({"Name": "Spring Logistics Summit", "Type": "Conference", "Status": "Completed",
               "StartDate": "2025-03-10", "EndDate": "2025-03-12", "IsActive": false,
               "BudgetedCost": 45_000.0, "ActualCost": 41_250.0, "ExpectedRevenue": 250_000.0,
               "ExpectedResponse": 8.0, "NumberSent": 1200.0, "External_Id__c": "CMP-3001"}),
        json!({"Name": "Analytics Webinar Series", "Type": "Webinar", "Status": "In Progress",
               "StartDate": "2025-05-01", "EndDate": "2025-12-15", "IsActive": true,
               "BudgetedCost": 8_000.0, "ExpectedRevenue": 90_000.0, "ExpectedResponse": 4.5,
               "NumberSent": 5400.0, "External_Id__c": "CMP-3002"}),
        json!({"Name": "Q3 Retail Newsletter", "Type": "Email", "Status": "Planned",
               "StartDate": "2025-07-01", "EndDate": "2025-09-30", "IsActive": true,
               "BudgetedCost": 2_500.0, "NumberSent": 20000.0, "External_Id__c": "CMP-3003"}),
        json!({"Name": "Healthcare Print Campaign", "Type": "Advertisement", "Status": "Aborted",
               "StartDate": "2025-02-01", "EndDate": "2025-02-28", "IsActive": false,
               "BudgetedCost": 15_000.0, "ActualCost": 3_100.0, "External_Id__c": "CMP-3004"}),
    ]
}

fn opportunities(acc: &dyn Fn(usize) -> String, camp: &dyn Fn(usize) -> String) -> Vec<Value> {
    vec![
        json!({"Name": "Northwind - Warehouse Automation", "AccountId": acc(0), "StageName": "Negotiation/Review",
               "CloseDate": "2025-11-28", "Amount": 180_000.0, "Type": "Existing Customer - Upgrade",
               "LeadSource": "Partner Referral", "NextStep": "Legal review of MSA", "CampaignId": camp(0),
               "External_Id__c": "OPP-4001"}),
        json!({"Name": "Bluebird - Platform Pilot", "AccountId": acc(1), "StageName": "Qualification",
               "CloseDate": "2025-12-19", "Amount": 24_000.0, "Type": "New Customer", "LeadSource": "Web",
               "CampaignId": camp(1), "External_Id__c": "OPP-4002"}),
        json!({"Name": "Cedar & Pine - POS Rollout", "AccountId": acc(2), "StageName": "Closed Won",
               "CloseDate": "2025-04-30", "Amount": 96_500.0, "Type": "New Customer",
               "LeadSource": "Phone Inquiry", "External_Id__c": "OPP-4003"}),
        json!({"Name": "Helios - Patient Portal", "AccountId": acc(3), "StageName": "Proposal/Price Quote",
               "CloseDate": "2026-01-31", "Amount": 310_000.0, "Type": "Existing Customer - Replacement",
               "External_Id__c": "OPP-4004"}),
        json!({"Name": "Quantum Ledger - Reconciliation", "AccountId": acc(4), "StageName": "Closed Lost",
               "CloseDate": "2025-06-15", "Amount": 75_000.0, "Type": "New Customer",
               "Description": "Lost to incumbent on price.", "External_Id__c": "OPP-4005"}),
        json!({"Name": "Redwood - Network Monitoring", "AccountId": acc(7), "StageName": "Prospecting",
               "CloseDate": "2026-03-31", "Amount": 420_000.0, "Type": "New Customer",
               "LeadSource": "Purchased List", "External_Id__c": "OPP-4006"}),
    ]
}

fn leads(
    acc: &dyn Fn(usize) -> String,
    con: &dyn Fn(usize) -> String,
    converted_opp: Option<String>,
    agent: &dyn Fn(usize) -> String,
) -> Vec<Value> {
    let l = |first: &str,
             last: &str,
             company: &str,
             title: &str,
             email: &str,
             phone: &str,
             status: &str,
             source: &str,
             rating: &str,
             industry: &str,
             ext: &str,
             owner: String| {
        json!({"FirstName": first, "LastName": last, "Company": company, "Title": title, "Email": email,
               "Phone": phone, "Status": status, "LeadSource": source, "Rating": rating,
               "Industry": industry, "External_Id__c": ext, "OwnerId": owner})
    };
    let mut rows = vec![
        l(
            "Mason",
            "Reed",
            "Copperfield Brewing",
            "Owner",
            "mason.reed@example.com",
            "(415) 555-0131",
            "Open - Not Contacted",
            "Web",
            "Warm",
            "Retail",
            "LEAD-5001",
            agent(0),
        ),
        l(
            "Nora",
            "Lindqvist",
            "Fjord Robotics",
            "Head of Engineering",
            "nora.lindqvist@example.com",
            "+1 650 555 0132",
            "Working - Contacted",
            "Partner Referral",
            "Hot",
            "Manufacturing",
            "LEAD-5002",
            agent(1),
        ),
        l(
            "Omar",
            "Farouk",
            "Sunstone Clinics",
            "Practice Manager",
            "omar.farouk@example.org",
            "646.555.0133",
            "Open - Not Contacted",
            "Phone Inquiry",
            "Cold",
            "Healthcare",
            "LEAD-5003",
            agent(0),
        ),
        l(
            "Priya",
            "Shah",
            "Lattice Capital",
            "Operations Analyst",
            "priya.shah@example.com",
            "212-555-0134",
            "Working - Contacted",
            "Web",
            "Warm",
            "Finance",
            "LEAD-5004",
            agent(1),
        ),
        l(
            "Quinn",
            "Murphy",
            "Brightpath Tutoring",
            "Director",
            "quinn.murphy@example.org",
            "+1 (617) 555-0135",
            "Closed - Not Converted",
            "Other",
            "Cold",
            "Education",
            "LEAD-5005",
            agent(0),
        ),
        l(
            "Rosa",
            "Delgado",
            "Vista Broadcasting",
            "Station Manager",
            "rosa.delgado@example.com",
            "3105550136",
            "Open - Not Contacted",
            "Purchased List",
            "Warm",
            "Media",
            "LEAD-5006",
            agent(1),
        ),
        l(
            "Samuel",
            "Okafor",
            "Cirrus Telecom",
            "CTO",
            "samuel.okafor@example.net",
            "(206) 555-0137",
            "Working - Contacted",
            "Web",
            "Hot",
            "Telecommunications",
            "LEAD-5007",
            agent(0),
        ),
        l(
            "Tara",
            "Quinlan",
            "Greenleaf Grocers",
            "Category Manager",
            "tara.quinlan@example.com",
            "503.555.0138",
            "Open - Not Contacted",
            "Web",
            "Warm",
            "Retail",
            "LEAD-5008",
            agent(1),
        ),
        l(
            "Umar",
            "Siddiqui",
            "Atlas Freight",
            "Dispatch Lead",
            "umar.siddiqui@example.com",
            "+1 415 555 0139",
            "Open - Not Contacted",
            "Phone Inquiry",
            "Cold",
            "Manufacturing",
            "LEAD-5009",
            agent(0),
        ),
    ];
    rows.push(json!({
        "FirstName": "Chloe", "LastName": "Martin", "Company": "Bluebird Analytics", "Title": "CTO",
        "Email": "chloe.martin@bluebird.example.com", "Phone": "415.555.0191", "Status": "Closed - Converted",
        "LeadSource": "Web", "Rating": "Hot", "Industry": "Technology", "External_Id__c": "LEAD-5010",
        "IsConverted": true, "ConvertedAccountId": acc(1), "ConvertedContactId": con(2),
        "ConvertedOpportunityId": converted_opp, "ConvertedDate": "2025-05-02",
    }));
    rows
}

fn cases(
    acc: &dyn Fn(usize) -> String,
    con: &dyn Fn(usize) -> String,
    agent: &dyn Fn(usize) -> String,
) -> Vec<Value> {
    let c = |subject: &str,
             status: &str,
             priority: &str,
             origin: &str,
             ty: &str,
             reason: &str,
             account: usize,
             contact: usize,
             owner: String| {
        json!({"Subject": subject, "Status": status, "Priority": priority, "Origin": origin, "Type": ty,
               "Reason": reason, "AccountId": acc(account), "ContactId": con(contact), "OwnerId": owner,
               "Description": format!("{subject}. Reported via {origin}.")})
    };
    let mut rows = vec![
        c(
            "Shipment tracking page times out",
            "New",
            "High",
            "Web",
            "Problem",
            "Performance",
            0,
            0,
            agent(0),
        ),
        c(
            "Invoice shows wrong billing address",
            "Working",
            "Medium",
            "Email",
            "Question",
            "Other",
            0,
            1,
            agent(1),
        ),
        c(
            "Dashboard export to CSV fails",
            "Escalated",
            "High",
            "Phone",
            "Problem",
            "Breakdown",
            1,
            2,
            agent(0),
        ),
        c(
            "Request: dark mode for POS terminals",
            "New",
            "Low",
            "Chat",
            "Feature Request",
            "Feedback",
            2,
            3,
            agent(1),
        ),
        c(
            "Barcode scanner not pairing",
            "Closed",
            "Medium",
            "Phone",
            "Problem",
            "Installation",
            2,
            4,
            agent(0),
        ),
        c(
            "Portal login loop for clinicians",
            "Working",
            "High",
            "Email",
            "Problem",
            "Breakdown",
            3,
            5,
            agent(1),
        ),
        c(
            "HIPAA audit log retention question",
            "Closed",
            "Low",
            "Web",
            "Question",
            "Other",
            3,
            6,
            agent(0),
        ),
        c(
            "Reconciliation job slow at month end",
            "New",
            "Medium",
            "Social",
            "Problem",
            "Performance",
            4,
            7,
            agent(1),
        ),
        c(
            "Add SSO for faculty accounts",
            "Closed",
            "Medium",
            "Email",
            "Feature Request",
            "Feedback",
            5,
            8,
            agent(0),
        ),
        c(
            "Router firmware rollout stalled",
            "Escalated",
            "High",
            "Phone",
            "Problem",
            "Equipment Design",
            7,
            10,
            agent(1),
        ),
    ];
    if let Some(first) = rows.first_mut() {
        first["SuppliedName"] = json!("Alice Nguyen");
        first["SuppliedEmail"] = json!("alice.nguyen@example.com");
        first["SuppliedPhone"] = json!("(415) 555-0143");
    }
    rows
}

fn case_comments(case: &dyn Fn(usize) -> String) -> Vec<Value> {
    vec![
        json!({"ParentId": case(0), "CommentBody": "Reproduced on the EU endpoint; investigating load balancer logs.", "IsPublished": false}),
        json!({"ParentId": case(0), "CommentBody": "We are looking into the timeouts and will update you within 24 hours.", "IsPublished": true}),
        json!({"ParentId": case(2), "CommentBody": "Escalated to the analytics engineering team.", "IsPublished": false}),
        json!({"ParentId": case(4), "CommentBody": "Firmware 2.4.1 resolved the pairing issue. Closing.", "IsPublished": true}),
        json!({"ParentId": case(9), "CommentBody": "Rollout paused at 40% of sites pending vendor patch.", "IsPublished": true}),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_is_complete_and_deterministic() {
        let mut a = Store::new();
        let seeded = load(&mut a, true);
        let count = |s: &Store, o: &str| schema::object(o).map_or(0, |obj| s.live(obj).count());
        for (object, n) in [
            ("User", 3),
            ("Organization", 1),
            ("LeadStatus", 4),
            ("RecordType", 2),
            ("Account", 8),
            ("Contact", 12),
            ("Lead", 10),
            ("Opportunity", 6),
            ("Campaign", 4),
            ("Case", 10),
            ("CaseComment", 5),
        ] {
            assert_eq!(count(&a, object), n, "{object}");
        }
        assert!(seeded.org_id.starts_with("00D"));
        assert!(seeded.integration_user.starts_with("005"));
        let mut b = Store::new();
        let again = load(&mut b, true);
        assert_eq!(seeded.org_id, again.org_id);
        let mut empty = Store::new();
        load(&mut empty, false);
        assert_eq!(count(&empty, "Account"), 0);
        assert_eq!(count(&empty, "LeadStatus"), 4);
        assert_eq!(count(&empty, "RecordType"), 2);
    }
}
