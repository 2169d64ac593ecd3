//! The sObject schemas of the sandbox org, one table per object.
//!
//! Adding an object is adding an [`ObjectDef`] row to [`OBJECTS`]; adding a field
//! is adding a [`FieldDef`] row to its object's table. The system fields every
//! object has (Id, OwnerId, audit fields) are appended by [`ObjectDef::fields`].

/// Field data types, named as describe reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldType {
    Id,
    String,
    TextArea,
    Email,
    Phone,
    Url,
    Picklist,
    Boolean,
    Double,
    Currency,
    Percent,
    Int,
    Date,
    DateTime,
    Reference,
    MultiPicklist,
    Combobox,
    EncryptedString,
    Long,
    Time,
    Base64,
    /// A compound address (read only; its parts are fields of their own).
    Address,
    /// A compound geolocation (read only; its parts are `…__Latitude__s`, `…__Longitude__s`).
    Location,
    AnyType,
}

impl FieldType {
    /// The `type` value of describe.
    pub(crate) fn api_name(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::String => "string",
            Self::TextArea => "textarea",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Url => "url",
            Self::Picklist => "picklist",
            Self::Boolean => "boolean",
            Self::Double => "double",
            Self::Currency => "currency",
            Self::Percent => "percent",
            Self::Int => "int",
            Self::Date => "date",
            Self::DateTime => "datetime",
            Self::Reference => "reference",
            Self::MultiPicklist => "multipicklist",
            Self::Combobox => "combobox",
            Self::EncryptedString => "encryptedstring",
            Self::Long => "long",
            Self::Time => "time",
            Self::Base64 => "base64",
            Self::Address => "address",
            Self::Location => "location",
            Self::AnyType => "anyType",
        }
    }

    /// The `soapType` value of describe.
    pub(crate) fn soap_type(self) -> &'static str {
        match self {
            Self::Id | Self::Reference => "tns:ID",
            Self::Boolean => "xsd:boolean",
            Self::Double | Self::Currency | Self::Percent => "xsd:double",
            Self::Int => "xsd:int",
            Self::Date => "xsd:date",
            Self::DateTime => "xsd:dateTime",
            Self::Long => "xsd:long",
            Self::Time => "xsd:time",
            Self::Base64 => "xsd:base64Binary",
            Self::Address => "urn:address",
            Self::Location => "urn:location",
            Self::AnyType => "xsd:anyType",
            _ => "xsd:string",
        }
    }

    /// Whether values are text (compared case-insensitively, length-checked).
    pub(crate) fn is_text(self) -> bool {
        matches!(
            self,
            Self::String
                | Self::TextArea
                | Self::Email
                | Self::Phone
                | Self::Url
                | Self::Picklist
                | Self::MultiPicklist
                | Self::Combobox
                | Self::EncryptedString
        )
    }

    /// Whether values are ids (compared on their 18-char form).
    pub(crate) fn is_id(self) -> bool {
        matches!(self, Self::Id | Self::Reference)
    }

    /// Whether values are JSON numbers.
    pub(crate) fn is_number(self) -> bool {
        matches!(
            self,
            Self::Double | Self::Currency | Self::Percent | Self::Int | Self::Long
        )
    }

    /// Whether the field is a compound of other fields (read as a JSON object).
    pub(crate) fn is_compound(self) -> bool {
        matches!(self, Self::Address | Self::Location)
    }

    /// The type name Salesforce's JSON parser uses in its errors.
    pub(crate) fn parser_name(self) -> &'static str {
        match self {
            Self::Boolean => "boolean",
            Self::Double | Self::Currency | Self::Percent => "double",
            Self::Int => "int",
            Self::Long => "long",
            Self::Date => "date",
            Self::DateTime => "datetime",
            Self::Time => "time",
            Self::Base64 => "base64",
            _ => "string",
        }
    }
}

/// One field of an sObject.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldDef {
    pub(crate) name: &'static str,
    pub(crate) label: &'static str,
    pub(crate) ty: FieldType,
    /// Max length for text fields, 0 otherwise.
    pub(crate) length: u32,
    pub(crate) required: bool,
    pub(crate) createable: bool,
    pub(crate) updateable: bool,
    pub(crate) external_id: bool,
    pub(crate) unique: bool,
    pub(crate) custom: bool,
    /// Filled in by the org (Id, audit fields, auto numbers, formulas).
    pub(crate) system: bool,
    pub(crate) picklist: &'static [&'static str],
    pub(crate) restricted: bool,
    /// Default value on create (picklists, booleans).
    pub(crate) default: Option<&'static str>,
    pub(crate) reference_to: &'static [&'static str],
    pub(crate) relationship: Option<&'static str>,
    /// Searched by SOSL `IN NAME FIELDS`.
    pub(crate) name_field: bool,
    /// The compound field this one is part of (`BillingAddress` for `BillingCity`).
    pub(crate) compound: Option<&'static str>,
}

const fn field(name: &'static str, label: &'static str, ty: FieldType, length: u32) -> FieldDef {
    FieldDef {
        name,
        label,
        ty,
        length,
        required: false,
        createable: true,
        updateable: true,
        external_id: false,
        unique: false,
        custom: false,
        system: false,
        picklist: &[],
        restricted: false,
        default: None,
        reference_to: &[],
        relationship: None,
        name_field: false,
        compound: None,
    }
}

const fn text(name: &'static str, label: &'static str, length: u32) -> FieldDef {
    field(name, label, FieldType::String, length)
}
const fn textarea(name: &'static str, label: &'static str, length: u32) -> FieldDef {
    field(name, label, FieldType::TextArea, length)
}
const fn email(name: &'static str, label: &'static str) -> FieldDef {
    field(name, label, FieldType::Email, 80)
}
const fn phone(name: &'static str, label: &'static str) -> FieldDef {
    field(name, label, FieldType::Phone, 40)
}
const fn url(name: &'static str, label: &'static str) -> FieldDef {
    field(name, label, FieldType::Url, 255)
}
const fn picklist(
    name: &'static str,
    label: &'static str,
    values: &'static [&'static str],
) -> FieldDef {
    let mut f = field(name, label, FieldType::Picklist, 255);
    f.picklist = values;
    f
}
const fn boolean(name: &'static str, label: &'static str) -> FieldDef {
    let mut f = field(name, label, FieldType::Boolean, 0);
    f.default = Some("false");
    f
}
const fn double(name: &'static str, label: &'static str) -> FieldDef {
    field(name, label, FieldType::Double, 0)
}
const fn currency(name: &'static str, label: &'static str) -> FieldDef {
    field(name, label, FieldType::Currency, 0)
}
const fn percent(name: &'static str, label: &'static str) -> FieldDef {
    field(name, label, FieldType::Percent, 0)
}
const fn int(name: &'static str, label: &'static str) -> FieldDef {
    field(name, label, FieldType::Int, 0)
}
const fn date(name: &'static str, label: &'static str) -> FieldDef {
    field(name, label, FieldType::Date, 0)
}
const fn datetime(name: &'static str, label: &'static str) -> FieldDef {
    field(name, label, FieldType::DateTime, 0)
}
const fn reference(
    name: &'static str,
    label: &'static str,
    to: &'static [&'static str],
    relationship: &'static str,
) -> FieldDef {
    let mut f = field(name, label, FieldType::Reference, 18);
    f.reference_to = to;
    f.relationship = Some(relationship);
    f
}
/// A custom text external id, unique (case-insensitive) unless `unique` is false.
const fn external_id(name: &'static str, label: &'static str, unique: bool) -> FieldDef {
    let mut f = text(name, label, 255);
    f.external_id = true;
    f.unique = unique;
    f.custom = true;
    f
}

impl FieldDef {
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    /// Not writable through the API (the org maintains it).
    const fn read_only(mut self) -> Self {
        self.createable = false;
        self.updateable = false;
        self
    }
    /// Maintained by the org: read-only and never reported missing.
    const fn system(mut self) -> Self {
        self.system = true;
        self.read_only()
    }
    const fn default(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }
    const fn restricted(mut self) -> Self {
        self.restricted = true;
        self
    }
    const fn name_field(mut self) -> Self {
        self.name_field = true;
        self
    }
    /// A custom field (API name ends in `__c`).
    const fn custom(mut self) -> Self {
        self.custom = true;
        self
    }

    /// The values of a picklist-like field.
    const fn with_picklist(mut self, values: &'static [&'static str]) -> Self {
        self.picklist = values;
        self
    }

    /// A part of the compound field `compound`.
    const fn part_of(mut self, compound: &'static str) -> Self {
        self.compound = Some(compound);
        self
    }

    /// Whether the field may be written on create (`create`) or update.
    pub(crate) fn writable(&self, create: bool) -> bool {
        if create {
            self.createable
        } else {
            self.updateable
        }
    }

    /// The object a reference points to first (its describe target).
    pub(crate) fn target(&self) -> Option<&'static ObjectDef> {
        self.reference_to.first().and_then(|name| object(name))
    }
}

/// One sObject type.
#[derive(Debug)]
pub(crate) struct ObjectDef {
    pub(crate) name: &'static str,
    pub(crate) label: &'static str,
    pub(crate) label_plural: &'static str,
    pub(crate) key_prefix: &'static str,
    /// A custom object (API name ends in `__c`).
    pub(crate) custom: bool,
    /// Whether the API may create, update and delete records.
    pub(crate) writable: bool,
    pub(crate) has_owner: bool,
    /// Searched by SOSL when no RETURNING clause is given.
    pub(crate) searchable: bool,
    /// A text field naming the only object whose references may point at a
    /// record of this object (RecordType's `SobjectType`); `None` when any may.
    pub(crate) scope_field: Option<&'static str>,
    /// The object-specific fields, in describe order.
    pub(crate) own_fields: &'static [FieldDef],
}

static ID: FieldDef = field("Id", "Record ID", FieldType::Id, 18).system();
static OWNER: FieldDef = reference("OwnerId", "Owner ID", &["User"], "Owner");
static AUDIT: &[FieldDef] = &[
    boolean("IsDeleted", "Deleted").system(),
    datetime("CreatedDate", "Created Date").system(),
    reference("CreatedById", "Created By ID", &["User"], "CreatedBy").system(),
    datetime("LastModifiedDate", "Last Modified Date").system(),
    reference(
        "LastModifiedById",
        "Last Modified By ID",
        &["User"],
        "LastModifiedBy",
    )
    .system(),
    datetime("SystemModstamp", "System Modstamp").system(),
];

impl ObjectDef {
    /// Every field in describe order: Id, own fields, OwnerId, audit fields.
    pub(crate) fn fields(&self) -> impl Iterator<Item = &'static FieldDef> + '_ {
        let owner = self.has_owner.then_some(&OWNER);
        std::iter::once(&ID)
            .chain(self.own_fields.iter())
            .chain(owner)
            .chain(AUDIT.iter())
    }

    /// Looks a field up by API name, case-insensitively.
    pub(crate) fn field(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields().find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// Looks a parent relationship up by name, case-insensitively.
    pub(crate) fn relationship(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields()
            .find(|f| f.relationship.is_some_and(|r| r.eq_ignore_ascii_case(name)))
    }

    /// The label used in id errors, e.g. "Lead ID".
    pub(crate) fn id_label(&self) -> String {
        format!("{} ID", self.label)
    }
}

/// Looks an object up by API name, case-insensitively.
pub(crate) fn object(name: &str) -> Option<&'static ObjectDef> {
    OBJECTS
        .iter()
        .copied()
        .find(|o| o.name.eq_ignore_ascii_case(name))
}

/// Looks an object up by the key prefix of one of its ids.
pub(crate) fn object_by_prefix(prefix: &str) -> Option<&'static ObjectDef> {
    OBJECTS.iter().copied().find(|o| o.key_prefix == prefix)
}

const LEAD_SOURCES: &[&str] = &[
    "Web",
    "Phone Inquiry",
    "Partner Referral",
    "Purchased List",
    "Other",
];
const INDUSTRIES: &[&str] = &[
    "Agriculture",
    "Banking",
    "Education",
    "Finance",
    "Healthcare",
    "Manufacturing",
    "Media",
    "Retail",
    "Technology",
    "Telecommunications",
    "Other",
];
/// Lead statuses in sort order; the LeadStatus seed rows mirror this list.
pub(crate) const LEAD_STATUSES: &[&str] = &[
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
];
/// Opportunity stages with their default probability.
pub(crate) const STAGES: &[(&str, f64)] = &[
    ("Prospecting", 10.0),
    ("Qualification", 10.0),
    ("Needs Analysis", 20.0),
    ("Proposal/Price Quote", 75.0),
    ("Negotiation/Review", 90.0),
    ("Closed Won", 100.0),
    ("Closed Lost", 0.0),
];
const STAGE_NAMES: &[&str] = &[
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
];

static LEAD: ObjectDef = ObjectDef {
    name: "Lead",
    label: "Lead",
    label_plural: "Leads",
    key_prefix: "00Q",
    custom: false,
    writable: true,
    has_owner: true,
    searchable: true,
    scope_field: None,
    own_fields: &[
        text("Name", "Full Name", 121).system().name_field(),
        text("FirstName", "First Name", 40),
        text("LastName", "Last Name", 80).required(),
        text("Company", "Company", 255).required(),
        text("Title", "Title", 128),
        email("Email", "Email"),
        phone("Phone", "Phone"),
        phone("MobilePhone", "Mobile Phone"),
        picklist("Status", "Status", LEAD_STATUSES)
            .required()
            .restricted()
            .default("Open - Not Contacted"),
        picklist("LeadSource", "Lead Source", LEAD_SOURCES),
        picklist("Rating", "Rating", &["Hot", "Warm", "Cold"]),
        picklist("Industry", "Industry", INDUSTRIES),
        textarea("Description", "Description", 32000),
        url("Website", "Website"),
        boolean("IsConverted", "Converted").read_only(),
        reference(
            "ConvertedAccountId",
            "Converted Account ID",
            &["Account"],
            "ConvertedAccount",
        )
        .read_only(),
        reference(
            "ConvertedContactId",
            "Converted Contact ID",
            &["Contact"],
            "ConvertedContact",
        )
        .read_only(),
        reference(
            "ConvertedOpportunityId",
            "Converted Opportunity ID",
            &["Opportunity"],
            "ConvertedOpportunity",
        )
        .read_only(),
        date("ConvertedDate", "Converted Date").read_only(),
        external_id("External_Id__c", "External Id", true),
    ],
};

static CONTACT: ObjectDef = ObjectDef {
    name: "Contact",
    label: "Contact",
    label_plural: "Contacts",
    key_prefix: "003",
    custom: false,
    writable: true,
    has_owner: true,
    searchable: true,
    scope_field: None,
    own_fields: &[
        text("Name", "Full Name", 121).system().name_field(),
        text("FirstName", "First Name", 40),
        text("LastName", "Last Name", 80).required(),
        reference("AccountId", "Account ID", &["Account"], "Account"),
        text("Title", "Title", 128),
        email("Email", "Email"),
        phone("Phone", "Business Phone"),
        phone("MobilePhone", "Mobile Phone"),
        text("Department", "Department", 80),
        picklist("LeadSource", "Lead Source", LEAD_SOURCES),
        textarea("Description", "Contact Description", 32000),
        textarea("MailingStreet", "Mailing Street", 255),
        text("MailingCity", "Mailing City", 40),
        text("MailingState", "Mailing State/Province", 80),
        text("MailingPostalCode", "Mailing Zip/Postal Code", 20),
        text("MailingCountry", "Mailing Country", 80),
        external_id("External_Id__c", "External Id", true),
        external_id("Legacy_Id__c", "Legacy Id", false),
    ],
};

static ACCOUNT: ObjectDef = ObjectDef {
    name: "Account",
    label: "Account",
    label_plural: "Accounts",
    key_prefix: "001",
    custom: false,
    writable: true,
    has_owner: true,
    searchable: true,
    scope_field: None,
    own_fields: &[
        text("Name", "Account Name", 255).required().name_field(),
        text("AccountNumber", "Account Number", 40),
        picklist(
            "Type",
            "Account Type",
            &[
                "Prospect",
                "Customer - Direct",
                "Customer - Channel",
                "Partner",
                "Other",
            ],
        ),
        picklist("Industry", "Industry", INDUSTRIES),
        phone("Phone", "Account Phone"),
        url("Website", "Website"),
        textarea("Description", "Account Description", 32000),
        currency("AnnualRevenue", "Annual Revenue"),
        int("NumberOfEmployees", "Employees"),
        textarea("BillingStreet", "Billing Street", 255),
        text("BillingCity", "Billing City", 40),
        text("BillingState", "Billing State/Province", 80),
        text("BillingPostalCode", "Billing Zip/Postal Code", 20),
        text("BillingCountry", "Billing Country", 80),
        reference("ParentId", "Parent Account ID", &["Account"], "Parent"),
        external_id("External_Id__c", "External Id", true),
    ],
};

static OPPORTUNITY: ObjectDef = ObjectDef {
    name: "Opportunity",
    label: "Opportunity",
    label_plural: "Opportunities",
    key_prefix: "006",
    custom: false,
    writable: true,
    has_owner: true,
    searchable: true,
    scope_field: None,
    own_fields: &[
        text("Name", "Name", 120).required().name_field(),
        reference("AccountId", "Account ID", &["Account"], "Account"),
        picklist("StageName", "Stage", STAGE_NAMES)
            .required()
            .restricted(),
        date("CloseDate", "Close Date").required(),
        currency("Amount", "Amount"),
        percent("Probability", "Probability (%)"),
        picklist(
            "Type",
            "Opportunity Type",
            &[
                "New Customer",
                "Existing Customer - Upgrade",
                "Existing Customer - Replacement",
            ],
        ),
        picklist("LeadSource", "Lead Source", LEAD_SOURCES),
        text("NextStep", "Next Step", 255),
        textarea("Description", "Description", 32000),
        boolean("IsClosed", "Closed").system(),
        boolean("IsWon", "Won").system(),
        reference("CampaignId", "Campaign ID", &["Campaign"], "Campaign"),
        external_id("External_Id__c", "External Id", true),
    ],
};

static CASE: ObjectDef = ObjectDef {
    name: "Case",
    label: "Case",
    label_plural: "Cases",
    key_prefix: "500",
    custom: false,
    writable: true,
    has_owner: true,
    searchable: true,
    scope_field: None,
    own_fields: &[
        text("CaseNumber", "Case Number", 30).system().name_field(),
        text("Subject", "Subject", 255).name_field(),
        textarea("Description", "Description", 32000),
        picklist(
            "Status",
            "Status",
            &["New", "Working", "Escalated", "Closed"],
        )
        .default("New"),
        picklist("Priority", "Priority", &["High", "Medium", "Low"]).default("Medium"),
        picklist(
            "Origin",
            "Case Origin",
            &["Phone", "Email", "Web", "Chat", "Social"],
        ),
        picklist(
            "Type",
            "Case Type",
            &["Question", "Problem", "Feature Request"],
        ),
        picklist(
            "Reason",
            "Case Reason",
            &[
                "Installation",
                "Equipment Complexity",
                "Performance",
                "Breakdown",
                "Equipment Design",
                "Feedback",
                "Other",
            ],
        ),
        reference("AccountId", "Account ID", &["Account"], "Account"),
        reference("ContactId", "Contact ID", &["Contact"], "Contact"),
        text("SuppliedName", "Name", 80),
        email("SuppliedEmail", "Email Address"),
        phone("SuppliedPhone", "Phone"),
        boolean("IsClosed", "Closed").system(),
        datetime("ClosedDate", "Closed Date").system(),
        reference("ParentId", "Parent Case ID", &["Case"], "Parent"),
        reference(
            "RecordTypeId",
            "Record Type ID",
            &["RecordType"],
            "RecordType",
        ),
        external_id("External_Id__c", "External Id", true),
        // The social-care integration's Case fields (../shared/seeds/004).
        text("Conversation_Id__c", "Conversation ID", 255).custom(),
        picklist("Social_Network__c", "Social Network", SOCIAL_NETWORKS).custom(),
        email(
            "Created_From_Hootsuite_By_Email__c",
            "Created from Hootsuite by Email",
        )
        .custom(),
        text(
            "Created_From_Hootsuite_By_Id__c",
            "Created from Hootsuite by ID",
            255,
        )
        .custom(),
        reference(
            "Hootsuite_Contact_Persona__c",
            "Hootsuite Contact Persona",
            &["Hootsuite_Contact_Persona__c"],
            "Hootsuite_Contact_Persona__r",
        )
        .custom(),
    ],
};

static CAMPAIGN: ObjectDef = ObjectDef {
    name: "Campaign",
    label: "Campaign",
    label_plural: "Campaigns",
    key_prefix: "701",
    custom: false,
    writable: true,
    has_owner: true,
    searchable: true,
    scope_field: None,
    own_fields: &[
        text("Name", "Name", 80).required().name_field(),
        picklist(
            "Type",
            "Type",
            &["Conference", "Webinar", "Email", "Advertisement", "Other"],
        ),
        picklist(
            "Status",
            "Status",
            &["Planned", "In Progress", "Completed", "Aborted"],
        ),
        date("StartDate", "Start Date"),
        date("EndDate", "End Date"),
        boolean("IsActive", "Active"),
        currency("BudgetedCost", "Budgeted Cost in Campaign"),
        currency("ActualCost", "Actual Cost in Campaign"),
        currency("ExpectedRevenue", "Expected Revenue in Campaign"),
        percent("ExpectedResponse", "Expected Response (%)"),
        double("NumberSent", "Num Sent in Campaign"),
        textarea("Description", "Description", 32000),
        reference("ParentId", "Parent Campaign ID", &["Campaign"], "Parent"),
        external_id("External_Id__c", "External Id", true),
    ],
};

static CASE_COMMENT: ObjectDef = ObjectDef {
    name: "CaseComment",
    label: "Case Comment",
    label_plural: "Case Comments",
    key_prefix: "00a",
    custom: false,
    writable: true,
    has_owner: false,
    searchable: false,
    scope_field: None,
    own_fields: &[
        reference("ParentId", "Parent ID", &["Case"], "Parent").required(),
        boolean("IsPublished", "Published"),
        textarea("CommentBody", "Body", 4000).required(),
    ],
};

static USER: ObjectDef = ObjectDef {
    name: "User",
    label: "User",
    label_plural: "Users",
    key_prefix: "005",
    custom: false,
    writable: false,
    has_owner: false,
    searchable: false,
    scope_field: None,
    own_fields: &[
        text("Username", "Username", 80).read_only(),
        text("Name", "Full Name", 121).system().name_field(),
        text("FirstName", "First Name", 40).read_only(),
        text("LastName", "Last Name", 80).read_only(),
        email("Email", "Email").read_only(),
        boolean("IsActive", "Active").read_only(),
    ],
};

static ORGANIZATION: ObjectDef = ObjectDef {
    name: "Organization",
    label: "Organization",
    label_plural: "Organizations",
    key_prefix: "00D",
    custom: false,
    writable: false,
    has_owner: false,
    searchable: false,
    scope_field: None,
    own_fields: &[
        text("Name", "Name", 80).read_only(),
        picklist(
            "OrganizationType",
            "Edition",
            &[
                "Developer Edition",
                "Enterprise Edition",
                "Unlimited Edition",
            ],
        )
        .read_only(),
        text("InstanceName", "Instance Name", 5).read_only(),
    ],
};

static LEAD_STATUS: ObjectDef = ObjectDef {
    name: "LeadStatus",
    label: "Lead Status Value",
    label_plural: "Lead Status Value",
    key_prefix: "01J",
    custom: false,
    writable: false,
    has_owner: false,
    searchable: false,
    scope_field: None,
    own_fields: &[
        text("MasterLabel", "Master Label", 255).read_only(),
        text("ApiName", "Api Name", 255).read_only(),
        int("SortOrder", "Sort Order").read_only(),
        boolean("IsDefault", "Is Default").read_only(),
        boolean("IsConverted", "Is Converted").read_only(),
    ],
};

static RECORD_TYPE: ObjectDef = ObjectDef {
    name: "RecordType",
    label: "Record Type",
    label_plural: "Record Types",
    key_prefix: "012",
    custom: false,
    writable: false,
    has_owner: false,
    searchable: false,
    scope_field: Some("SobjectType"),
    own_fields: &[
        text("Name", "Name", 80).read_only().name_field(),
        text("DeveloperName", "Record Type Name", 80).read_only(),
        text("SobjectType", "SObject Type Name", 40).read_only(),
        boolean("IsActive", "Active").read_only(),
        text("Description", "Description", 255).read_only(),
    ],
};

/// Social networks of the Hootsuite contact persona.
const SOCIAL_NETWORKS: &[&str] = &["Twitter", "Facebook", "Instagram", "LinkedIn", "WhatsApp"];

static CONTACT_PERSONA: ObjectDef = ObjectDef {
    name: "Hootsuite_Contact_Persona__c",
    label: "Contact Persona",
    label_plural: "Contact Personas",
    key_prefix: "a0H",
    custom: true,
    writable: true,
    has_owner: true,
    searchable: true,
    scope_field: None,
    own_fields: &[
        text("Name", "Contact Persona Name", 80)
            .required()
            .name_field(),
        reference("Case__c", "Case", &["Case"], "Case__r").custom(),
        reference("Contact__c", "Contact", &["Contact"], "Contact__r").custom(),
        picklist("Social_Network__c", "Social Network", SOCIAL_NETWORKS).custom(),
        text("Social_Handle__c", "Social Handle", 255).custom(),
        url("Profile_Url__c", "Profile URL").custom(),
        double("Follower_Count__c", "Follower Count").custom(),
        external_id("External_Id__c", "External Id", true),
        // The fields the social-care seed lists (../shared/seeds/004).
        external_id("Contact_Profile_Id__c", "Contact Profile ID", true),
        text("Primary_Identifier__c", "Primary Identifier", 255).custom(),
        text("Secondary_Identifier__c", "Secondary Identifier", 255).custom(),
        email("Email__c", "Email").custom(),
        text("Language__c", "Language", 40).custom(),
        phone("Phone__c", "Phone").custom(),
        boolean("VIP__c", "VIP").custom(),
    ],
};

/// Values of the sample object's picklists.
const SAMPLE_CHANNELS: &[&str] = &["Email", "Phone", "Chat", "Social"];

/// A custom object with a field of every type the gateway's schema generation maps, so that
/// each is proven end to end. Real orgs keep some of these types to standard objects (`long`,
/// `base64`, `combobox`, `anyType`, compound addresses); here they sit on one object, each with
/// Salesforce's wire format.
static FIELD_SAMPLE: ObjectDef = ObjectDef {
    name: "Field_Sample__c",
    label: "Field Sample",
    label_plural: "Field Samples",
    key_prefix: "a0S",
    custom: true,
    writable: true,
    has_owner: true,
    searchable: false,
    scope_field: None,
    own_fields: &[
        text("Name", "Field Sample Name", 80)
            .required()
            .name_field(),
        textarea("Notes__c", "Notes", 32000).custom(),
        email("Email__c", "Email").custom(),
        phone("Phone__c", "Phone").custom(),
        url("Website__c", "Website").custom(),
        field("Secret__c", "Secret", FieldType::EncryptedString, 175).custom(),
        picklist("Channel__c", "Channel", SAMPLE_CHANNELS).custom(),
        field("Channels__c", "Channels", FieldType::MultiPicklist, 4099)
            .with_picklist(SAMPLE_CHANNELS)
            .custom(),
        field(
            "Channel_Or_Other__c",
            "Channel or Other",
            FieldType::Combobox,
            255,
        )
        .with_picklist(SAMPLE_CHANNELS)
        .custom(),
        boolean("Active__c", "Active").custom(),
        int("Seats__c", "Seats").custom(),
        field("Big_Count__c", "Big Count", FieldType::Long, 0).custom(),
        double("Score__c", "Score").custom(),
        currency("Price__c", "Price").custom(),
        percent("Discount__c", "Discount").custom(),
        date("Start_Date__c", "Start Date").custom(),
        field("Opens_At__c", "Opens At", FieldType::Time, 0).custom(),
        datetime("Last_Contact__c", "Last Contact").custom(),
        field("Attachment__c", "Attachment", FieldType::Base64, 0).custom(),
        reference("Account__c", "Account", &["Account"], "Account__r").custom(),
        field("Extra__c", "Extra", FieldType::AnyType, 0).custom(),
        text("Street__c", "Street", 255)
            .custom()
            .part_of("Site_Address__c"),
        text("City__c", "City", 40)
            .custom()
            .part_of("Site_Address__c"),
        text("State__c", "State", 80)
            .custom()
            .part_of("Site_Address__c"),
        text("Postal_Code__c", "Postal Code", 20)
            .custom()
            .part_of("Site_Address__c"),
        text("Country__c", "Country", 80)
            .custom()
            .part_of("Site_Address__c"),
        field("Site_Address__c", "Site Address", FieldType::Address, 0)
            .custom()
            .read_only(),
        double("Site__Latitude__s", "Site (Latitude)")
            .custom()
            .part_of("Site__c"),
        double("Site__Longitude__s", "Site (Longitude)")
            .custom()
            .part_of("Site__c"),
        field("Site__c", "Site", FieldType::Location, 0)
            .custom()
            .read_only(),
    ],
};

/// Every object of the org, in describeGlobal order.
pub(crate) static OBJECTS: &[&ObjectDef] = &[
    &ACCOUNT,
    &CAMPAIGN,
    &CASE,
    &CASE_COMMENT,
    &CONTACT,
    &CONTACT_PERSONA,
    &FIELD_SAMPLE,
    &LEAD,
    &LEAD_STATUS,
    &OPPORTUNITY,
    &ORGANIZATION,
    &RECORD_TYPE,
    &USER,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_are_case_insensitive() {
        let lead = object("lead").expect("lead");
        assert_eq!(lead.name, "Lead");
        assert_eq!(lead.field("lastname").map(|f| f.name), Some("LastName"));
        assert_eq!(lead.field("ownerid").map(|f| f.name), Some("OwnerId"));
        assert!(
            object("CaseComment")
                .and_then(|o| o.field("OwnerId"))
                .is_none()
        );
        let contact = object("Contact").expect("contact");
        assert_eq!(
            contact.relationship("account").map(|f| f.name),
            Some("AccountId")
        );
        assert_eq!(object_by_prefix("500").map(|o| o.name), Some("Case"));
    }

    #[test]
    fn every_reference_resolves() {
        for obj in OBJECTS {
            for f in obj.fields() {
                if f.ty == FieldType::Reference {
                    assert!(f.target().is_some(), "{}.{}", obj.name, f.name);
                }
                if let Some(d) = f.default.filter(|_| f.ty == FieldType::Picklist) {
                    assert!(f.picklist.contains(&d), "{}.{}", obj.name, f.name);
                }
            }
        }
    }
}
