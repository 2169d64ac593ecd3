//! `CaseService`: typed Case records, and comments on cases (an agent's post-call notes).

use tonic::{Request, Response, Status};

use super::contact::CONTACT;
use super::operations::{self, parse_id};
use super::{ObjectTable, ObjectType, equals, id_of, open_only, output, reference, value};
use super::{codec, typed_object_service};
use crate::api::call::{CallContext, respond};
use crate::error::GatewayError;
use crate::pb::case_service_server::CaseService;
use crate::pb::{
    AddCaseCommentRequest, Case, CaseComment, CreateCaseRequest, DeleteCaseRequest,
    FindCasesRequest, FindCasesResponse, GetCaseRequest, UpdateCaseRequest, UpsertCaseRequest,
    UpsertCaseResponse,
};

/// `Case`: proto field to API name.
pub(crate) static CASE: ObjectType = ObjectType::built_in(ObjectTable {
    api_name: "Case",
    key_prefix: "500",
    message: "sfgate.v1.Case",
    request_field: "case",
    fields: &[
        output("case_number", "CaseNumber"),
        value("subject", "Subject"),
        value("description", "Description"),
        value("status", "Status"),
        value("priority", "Priority"),
        value("origin", "Origin"),
        value("type", "Type"),
        value("reason", "Reason"),
        reference("account_id", "AccountId"),
        reference("contact_id", "ContactId"),
        value("supplied_name", "SuppliedName"),
        value("supplied_email", "SuppliedEmail"),
        value("supplied_phone", "SuppliedPhone"),
        reference("parent_id", "ParentId"),
        reference("owner_id", "OwnerId"),
        output("is_closed", "IsClosed"),
        output("closed_date", "ClosedDate"),
        output("created_date", "CreatedDate"),
        output("last_modified_date", "LastModifiedDate"),
    ],
    criteria: &[
        equals("case_number", "CaseNumber"),
        id_of("contact_id", "ContactId", &CONTACT),
        open_only("open_only", "IsClosed"),
    ],
});

/// `CaseComment`: its fields are top-level fields of `AddCaseCommentRequest`.
pub(crate) static CASE_COMMENT: ObjectType = ObjectType::built_in(ObjectTable {
    api_name: "CaseComment",
    key_prefix: "00a",
    message: "sfgate.v1.CaseComment",
    request_field: "",
    fields: &[
        reference("case_id", "ParentId"),
        value("body", "CommentBody"),
        value("is_published", "IsPublished"),
        output("created_date", "CreatedDate"),
        output("created_by_id", "CreatedById"),
    ],
    criteria: &[],
});

/// Salesforce's limit on `CommentBody`.
const MAX_COMMENT_LENGTH: usize = 4000;

typed_object_service! {
    /// The typed Case service.
    CaseApi, CaseService, CASE, Case, case,
    create_case, CreateCaseRequest,
    get_case, GetCaseRequest,
    update_case, UpdateCaseRequest,
    delete_case, DeleteCaseRequest,
    find_cases, FindCasesRequest, FindCasesResponse, cases,
    upsert_case, UpsertCaseRequest, UpsertCaseResponse;

    async fn add_case_comment(&self, request: Request<AddCaseCommentRequest>) -> Result<Response<CaseComment>, Status> {
        let call = self.state.call_context(&request)?;
        respond(add_comment(&call, request.into_inner()).await)
    }
}

async fn add_comment(
    call: &CallContext,
    request: AddCaseCommentRequest,
) -> Result<CaseComment, GatewayError> {
    let case_id = parse_id(&CASE, "case_id", &request.case_id)?;
    if request.body.trim().is_empty() {
        return Err(GatewayError::invalid_field("body", "is required"));
    }
    let length = request.body.chars().count();
    if length > MAX_COMMENT_LENGTH {
        return Err(GatewayError::invalid_field(
            "body",
            format!("is {length} characters; Salesforce allows {MAX_COMMENT_LENGTH}"),
        ));
    }
    let comment = CaseComment {
        case_id: case_id.to_string(),
        body: request.body,
        is_published: request.is_published,
        ..CaseComment::default()
    };
    let mut fields = codec::create_fields(
        &CASE_COMMENT,
        &codec::to_dynamic(CASE_COMMENT.message, &comment)?,
    )?;
    fields.insert("IsPublished".into(), request.is_published.into());
    call.within_deadline(async {
        let id = call
            .client
            .create_record(CASE_COMMENT.api_name, &fields)
            .await
            .map_err(|error| operations::upstream(&CASE_COMMENT, error))?;
        let wire =
            operations::read_back_written(&call.client, call.deadline, &CASE_COMMENT, &id, fields)
                .await?;
        codec::decode(&CASE_COMMENT, &wire)
    })
    .await
}
