//! The services of schema files (`[[schemas]]`), served live: requests are decoded by the
//! method's descriptor into a `DynamicMessage`, run by the same record operations as the built-in
//! typed services ([`super::typed::operations`]), and answered with the resource's wire format as
//! the engine wrote it. The set in force is swapped whole on reload.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use arc_swap::ArcSwap;
use bytes::BufMut as _;
use prost_reflect::{DynamicMessage, MessageDescriptor, ReflectMessage as _, Value as ProtoValue};
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::{Grpc, UnaryService};
use tonic::{Request, Response, Status};

use super::call::{ApiState, CallContext, respond};
use super::typed::operations::{self, Page};
use super::typed::{FieldKind, ObjectRef, ObjectType};
use super::wire::undecodable;
use crate::error::{GatewayError, Reason};
use crate::salesforce::{SalesforceClient, SalesforceError};
use crate::schema::compile::{Action, ObjectSchema, ObjectService, SchemaFile};
use crate::schema::describe::ObjectDescribe;
use crate::tenant::TenantId;

/// A schema file and the tenants that use it.
#[derive(Debug, Clone)]
pub struct TenantSchema {
    /// The compiled file.
    pub file: Arc<SchemaFile>,
    /// The tenants whose calls it serves.
    pub tenants: Vec<TenantId>,
}

/// One method of a schema service, ready to run.
#[derive(Debug)]
struct MethodHandler {
    /// `acme.v1.HootsuiteContactPersonaService/GetHootsuiteContactPersona`, for errors.
    name: String,
    action: Action,
    object: Arc<ObjectType>,
    input: MessageDescriptor,
    output: MessageDescriptor,
    /// Create, Update, Upsert: the request field of the resource; Find: the response field of
    /// the records.
    resource_field: Option<String>,
    /// Upsert: the response field of the resource.
    output_resource: Option<u32>,
    /// The schema file, for errors.
    file: String,
    tenants: Arc<HashSet<TenantId>>,
}

/// How a field of a schema file differs from the org of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// The org has no such field (an admin deleted it, or it is of another org).
    Missing,
    /// The org has no such object.
    ObjectMissing,
    /// The field's type in the org is not the one the schema was generated from.
    TypeChanged {
        /// The schema's type.
        schema: String,
        /// The org's type.
        org: String,
    },
}

impl std::fmt::Display for Drift {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => formatter.write_str("the org has no such field"),
            Self::ObjectMissing => formatter.write_str("the org has no such object"),
            Self::TypeChanged { schema, org } => {
                write!(
                    formatter,
                    "its type is {org} in the org, {schema} in the schema"
                )
            }
        }
    }
}

/// A field of a schema file that differs from a tenant's org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftedField {
    /// The service, e.g. `acme.v1.HootsuiteContactPersonaService`.
    pub service: String,
    /// The request path of the field, e.g. `hootsuite_contact_persona.vip`.
    pub field: String,
    /// Its API name.
    pub api_name: String,
    /// How it differs.
    pub drift: Drift,
}

/// The last schema check of one tenant: what differs, or why it could not be checked; and per
/// resource message the object as the org has it (fields it lacks left out of reads).
#[derive(Debug)]
pub struct TenantDrift {
    /// The drifted fields, or why the check failed.
    pub outcome: Result<Vec<DriftedField>, String>,
    /// By message full name: the object without the fields the org lacks, and the proto names
    /// of its drifted fields.
    objects: HashMap<String, (Arc<ObjectType>, HashMap<String, Drift>)>,
}

/// The schema services in force, by request path.
#[derive(Debug, Default)]
pub struct SchemaServices {
    methods: HashMap<String, Arc<MethodHandler>>,
    schemas: Vec<TenantSchema>,
    /// The last schema check of each tenant.
    drift: parking_lot::RwLock<HashMap<TenantId, Arc<TenantDrift>>>,
}

impl SchemaServices {
    /// The services of `schemas`; two files serving the same service (or one of `sfgate.v1`)
    /// are refused.
    pub fn build(schemas: Vec<TenantSchema>) -> Result<Self, String> {
        let mut methods = HashMap::new();
        let mut owners: HashMap<String, String> = HashMap::new();
        for schema in &schemas {
            let file = schema.file.path.display().to_string();
            let tenants: Arc<HashSet<TenantId>> =
                Arc::new(schema.tenants.iter().cloned().collect());
            for service in &schema.file.services {
                let service_name = service.descriptor.full_name().to_owned();
                if crate::pb::descriptor_pool()
                    .get_service_by_name(&service_name)
                    .is_some()
                {
                    return Err(format!(
                        "{file}: service {service_name} is one of the gateway's own: use another package"
                    ));
                }
                if let Some(other) = owners.insert(service_name.clone(), file.clone()) {
                    return Err(format!(
                        "{file}: service {service_name} is also served by {other}: give each schema its own package (e.g. acme.v1 and globex.v1)"
                    ));
                }
                let request_field = service
                    .methods
                    .iter()
                    .find(|method| method.action == Action::Create)
                    .and_then(|method| method.resource_field.clone())
                    .unwrap_or_default();
                let criteria: Vec<(String, String)> = service
                    .methods
                    .iter()
                    .flat_map(|method| &method.criteria)
                    .map(|criterion| (criterion.proto.clone(), criterion.api.clone()))
                    .collect();
                let object = Arc::new(ObjectType::of_schema(
                    &service.object,
                    &request_field,
                    &criteria,
                ));
                for method in &service.methods {
                    let path = format!("/{service_name}/{}", method.descriptor.name());
                    methods.insert(
                        path,
                        Arc::new(MethodHandler {
                            name: format!("{service_name}/{}", method.descriptor.name()),
                            action: method.action,
                            object: Arc::clone(&object),
                            input: method.descriptor.input(),
                            output: method.descriptor.output(),
                            resource_field: method.resource_field.clone(),
                            output_resource: method
                                .descriptor
                                .output()
                                .fields()
                                .find(|field| {
                                    field.kind()
                                        == prost_reflect::Kind::Message(
                                            service.object.message.clone(),
                                        )
                                        && !field.is_list()
                                })
                                .map(|field| field.number()),
                            file: file.clone(),
                            tenants: Arc::clone(&tenants),
                        }),
                    );
                }
            }
        }
        Ok(Self {
            methods,
            schemas,
            drift: parking_lot::RwLock::default(),
        })
    }

    /// The schema files in force, with their tenants.
    pub fn schemas(&self) -> &[TenantSchema] {
        &self.schemas
    }

    /// Whether `path` (`/acme.v1.FooService/GetFoo`) is a method of a schema service.
    pub fn serves(&self, path: &str) -> bool {
        self.methods.contains_key(path)
    }

    /// The descriptors of the services.
    pub fn service_descriptors(&self) -> Vec<prost_reflect::ServiceDescriptor> {
        self.schemas
            .iter()
            .flat_map(|schema| &schema.file.services)
            .map(|service| service.descriptor.clone())
            .collect()
    }

    /// The services `tenant` uses, sorted.
    pub fn services_of(&self, tenant: &TenantId) -> Vec<String> {
        let mut names: Vec<String> = self
            .schemas
            .iter()
            .filter(|schema| schema.tenants.contains(tenant))
            .flat_map(|schema| &schema.file.services)
            .map(|service| service.descriptor.full_name().to_owned())
            .collect();
        names.sort();
        names
    }

    /// The methods of the services `tenant` uses, as `Service.Method` (for GetConnection's
    /// actions).
    pub(crate) fn actions_of(&self, tenant: &TenantId) -> Vec<String> {
        self.schemas
            .iter()
            .filter(|schema| schema.tenants.contains(tenant))
            .flat_map(|schema| &schema.file.services)
            .flat_map(|service| {
                service.methods.iter().map(|method| {
                    format!("{}.{}", service.descriptor.name(), method.descriptor.name())
                })
            })
            .collect()
    }

    /// Takes over the drift checks `previous` made of tenants that use the very same schema
    /// files here (a reload that changed neither), until this set's own checks replace them.
    pub fn adopt_drift(&self, previous: &SchemaServices) {
        let files_of = |services: &SchemaServices, tenant: &TenantId| -> Vec<*const SchemaFile> {
            services
                .schemas
                .iter()
                .filter(|schema| schema.tenants.contains(tenant))
                .map(|schema| Arc::as_ptr(&schema.file))
                .collect()
        };
        let mut drift = self.drift.write();
        for (tenant, checked) in previous.drift.read().iter() {
            if files_of(self, tenant) == files_of(previous, tenant)
                && !files_of(self, tenant).is_empty()
            {
                drift.insert(tenant.clone(), Arc::clone(checked));
            }
        }
    }

    /// The last schema check of `tenant`, if one was made.
    pub fn drift_of(&self, tenant: &TenantId) -> Option<Arc<TenantDrift>> {
        self.drift.read().get(tenant).cloned()
    }

    /// Checks the objects of the schema files `tenant` uses against its org's describes
    /// (one describe per object), keeps the result for its calls, logs each drifted field and
    /// sets `sfgate_schema_drift_fields`. A tenant without schema files is not checked.
    pub async fn check_drift(
        &self,
        tenant: &TenantId,
        client: &SalesforceClient,
    ) -> Option<Arc<TenantDrift>> {
        let services: Vec<&ObjectService> = self
            .schemas
            .iter()
            .filter(|schema| schema.tenants.contains(tenant))
            .flat_map(|schema| &schema.file.services)
            .collect();
        if services.is_empty() {
            return None;
        }
        let mut drifted = Vec::new();
        let mut objects = HashMap::new();
        let mut failure = None;
        for service in services {
            let object = &service.object;
            let differences = match client.describe(&object.api_name).await {
                Ok(json) => match serde_json::from_value::<ObjectDescribe>(json) {
                    Ok(describe) => differences(object, Some(&describe)),
                    Err(error) => {
                        failure = Some(format!(
                            "the describe of {} did not read: {error}",
                            object.api_name
                        ));
                        break;
                    }
                },
                Err(SalesforceError::Api {
                    http_status: 404, ..
                }) => differences(object, None),
                Err(error) => {
                    failure = Some(format!("describing {}: {error}", object.api_name));
                    break;
                }
            };
            let request_field = self
                .methods
                .values()
                .find(|handler| handler.object.message == object.message.full_name())
                .map(|handler| handler.object.request_field)
                .unwrap_or_default();
            for (proto, drift) in &differences {
                let path = if request_field.is_empty() {
                    proto.clone()
                } else {
                    format!("{request_field}.{proto}")
                };
                let api_name = object
                    .fields
                    .iter()
                    .find(|field| &field.proto == proto)
                    .map(|field| field.api.clone())
                    .unwrap_or_else(|| object.api_name.clone());
                tracing::warn!(
                    tenant = %tenant,
                    service = service.descriptor.full_name(),
                    field = %path,
                    api_name = %api_name,
                    problem = %drift,
                    "schema drift: calls that use this field fail; regenerate the schema file with `sfgate schema`"
                );
                drifted.push(DriftedField {
                    service: service.descriptor.full_name().to_owned(),
                    field: path,
                    api_name,
                    drift: drift.clone(),
                });
            }
            let mut pruned = object.clone();
            pruned
                .fields
                .retain(|field| differences.get(&field.proto) != Some(&Drift::Missing));
            let criteria: Vec<(String, String)> = service
                .methods
                .iter()
                .flat_map(|method| &method.criteria)
                .filter(|criterion| !differences.contains_key(&criterion.proto))
                .map(|criterion| (criterion.proto.clone(), criterion.api.clone()))
                .collect();
            objects.insert(
                object.message.full_name().to_owned(),
                (
                    Arc::new(ObjectType::of_schema(&pruned, request_field, &criteria)),
                    differences,
                ),
            );
        }
        let outcome = match failure {
            Some(failure) => {
                tracing::warn!(tenant = %tenant, "schema not checked: {failure}");
                Err(failure)
            }
            None => {
                crate::telemetry::metrics::metrics().schema_drift_checked(tenant, drifted.len());
                Ok(drifted)
            }
        };
        let checked = Arc::new(TenantDrift { outcome, objects });
        self.drift
            .write()
            .insert(tenant.clone(), Arc::clone(&checked));
        Some(checked)
    }

    /// The fully qualified names of the services, sorted.
    pub fn service_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .schemas
            .iter()
            .flat_map(|schema| &schema.file.services)
            .map(|service| service.descriptor.full_name().to_owned())
            .collect();
        names.sort();
        names
    }
}

/// The schema services, as the server holds them and a reload replaces them.
pub type SharedSchemaServices = Arc<ArcSwap<SchemaServices>>;

/// How the fields of `object` differ from its describe (`None`: the org has no such object,
/// which the entry under the empty name says). Fields the org has and the schema does not are
/// not differences: regenerating picks them up.
fn differences(object: &ObjectSchema, describe: Option<&ObjectDescribe>) -> HashMap<String, Drift> {
    let Some(describe) = describe else {
        return HashMap::from([(String::new(), Drift::ObjectMissing)]);
    };
    let in_org: HashMap<String, &str> = describe
        .fields
        .iter()
        .map(|field| (field.name.to_ascii_lowercase(), field.field_type.as_str()))
        .collect();
    object
        .fields
        .iter()
        .filter_map(|field| {
            let drift = match in_org.get(&field.api.to_ascii_lowercase()) {
                None => Drift::Missing,
                Some(org) if !org.eq_ignore_ascii_case(&field.salesforce_type) => {
                    Drift::TypeChanged {
                        schema: field.salesforce_type.clone(),
                        org: org.to_ascii_lowercase(),
                    }
                }
                Some(_) => return None,
            };
            Some((field.proto.clone(), drift))
        })
        .collect()
}

/// Refuses a call that uses a field the org lacks or types differently: a field set in the
/// resource, named in a mask (or a `*` mask while any differs), or set as a find criterion.
fn refuse_drifted(
    handler: &MethodHandler,
    drifted: &HashMap<String, Drift>,
    request: &DynamicMessage,
    tenant: &TenantId,
) -> Result<(), GatewayError> {
    if drifted.is_empty() {
        return Ok(());
    }
    let refused = |proto: &str, drift: &Drift| {
        let path = match (handler.action, handler.object.request_field) {
            (Action::Find | Action::Get | Action::Delete, _) | (_, "") => proto.to_owned(),
            (_, resource) => format!("{resource}.{proto}"),
        };
        let api_name = handler
            .object
            .field_by_proto(proto)
            .map(|field| field.api)
            .unwrap_or(handler.object.api_name);
        GatewayError::refused(
            Reason::SchemaFieldDrift,
            format!(
                "{path} ({api_name}): {drift} of tenant {tenant}; regenerate {} with `sfgate schema`",
                handler.file
            ),
        )
    };
    if let Some(drift) = drifted.get("") {
        return Err(refused(handler.object.api_name, drift));
    }
    // Output-only fields are never written, so setting one (or `*`) does not use it.
    let written = |proto: &str| {
        handler
            .object
            .field_by_proto(proto)
            .is_some_and(|field| field.kind != FieldKind::OutputOnly)
    };
    let mut used: Vec<String> = Vec::new();
    if let Some(resource) = message_field(request, handler.resource_field.as_deref())
        && handler.action != Action::Find
    {
        used.extend(
            resource
                .fields()
                .map(|(field, _)| field.name().to_owned())
                .filter(|name| written(name)),
        );
    }
    for (mask, writes) in [("update_mask", true), ("fields", false)] {
        if let Some(mask) = field_mask(request, mask)? {
            for path in mask.paths {
                if path == "*" {
                    used.extend(drifted.keys().filter(|proto| written(proto)).cloned());
                } else if !writes || written(&path) {
                    used.push(path);
                }
            }
        }
    }
    if handler.action == Action::Find {
        used.extend(
            request
                .fields()
                .filter(|(_, value)| !matches!(value, ProtoValue::String(text) if text.is_empty()))
                .map(|(field, _)| field.name().to_owned()),
        );
    }
    match used.iter().find_map(|proto| drifted.get_key_value(proto)) {
        Some((proto, drift)) => Err(refused(proto, drift)),
        None => Ok(()),
    }
}

/// The tower service answering every schema method (and, for any other path, UNIMPLEMENTED as
/// tonic does).
#[derive(Debug)]
pub struct SchemaRouter<Limiter> {
    state: ApiState<Limiter>,
    services: SharedSchemaServices,
}

impl<Limiter> Clone for SchemaRouter<Limiter> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            services: Arc::clone(&self.services),
        }
    }
}

impl<Limiter: Send + Sync + 'static> SchemaRouter<Limiter> {
    /// The router over the shared state and the services in force.
    pub fn new(state: ApiState<Limiter>, services: SharedSchemaServices) -> Self {
        Self { state, services }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<Limiter, Body> tower::Service<http::Request<Body>> for SchemaRouter<Limiter>
where
    Limiter: Send + Sync + 'static,
    Body: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    Body::Error: Into<tonic::codegen::StdError> + Send,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let services = self.services.load_full();
        let handler = services.methods.get(request.uri().path()).cloned();
        let Some(handler) = handler else {
            // Neither a built-in method nor a schema file's: what tonic answers for an unknown
            // method, with the path named.
            let unknown = format!(
                "no method {} here: `grpcurl list` shows the services served",
                request.uri().path()
            );
            return Box::pin(async move { Ok(Status::unimplemented(unknown).into_http()) });
        };
        let state = self.state.clone();
        Box::pin(async move {
            let codec = SchemaCodec {
                input: handler.input.clone(),
            };
            let method = SchemaMethod {
                services,
                handler,
                state,
            };
            Ok(Grpc::new(codec).unary(method, request).await)
        })
    }
}

/// One call of a schema method, with the services in force when it came.
struct SchemaMethod<Limiter> {
    services: Arc<SchemaServices>,
    handler: Arc<MethodHandler>,
    state: ApiState<Limiter>,
}

impl<Limiter: Send + Sync + 'static> UnaryService<DynamicMessage> for SchemaMethod<Limiter> {
    type Response = Vec<u8>;
    type Future = BoxFuture<Result<Response<Vec<u8>>, Status>>;

    fn call(&mut self, request: Request<DynamicMessage>) -> Self::Future {
        let handler = Arc::clone(&self.handler);
        let services = Arc::clone(&self.services);
        let call = self.state.call_context(&request);
        Box::pin(async move {
            let call = call?;
            respond(run(&call, &services, &handler, request.into_inner()).await)
        })
    }
}

async fn run(
    call: &CallContext,
    services: &SchemaServices,
    handler: &MethodHandler,
    request: DynamicMessage,
) -> Result<Vec<u8>, GatewayError> {
    if !handler.tenants.contains(&call.tenant) {
        return Err(GatewayError::refused(
            Reason::SchemaNotForTenant,
            format!(
                "{} is served for other tenants than {}: add the tenant to the [[schemas]] entry of {}",
                handler.name, call.tenant, handler.file
            ),
        ));
    }
    let checked = services.drift_of(&call.tenant);
    let (object, drifted) = match checked
        .as_ref()
        .and_then(|checked| checked.objects.get(handler.object.message))
    {
        Some((object, drifted)) => (object, Some(drifted)),
        None => (&handler.object, None),
    };
    if let Some(drifted) = drifted {
        refuse_drifted(handler, drifted, &request, &call.tenant)?;
    }
    let resource = || message_field(&request, handler.resource_field.as_deref());
    match handler.action {
        Action::Create => {
            operations::create(call, ObjectRef::Schema(Arc::clone(object)), resource()).await
        }
        Action::Get => {
            operations::get(
                call,
                object,
                &string_field(&request, "id"),
                field_mask(&request, "fields")?,
            )
            .await
        }
        Action::Update => {
            operations::update(
                call,
                object,
                resource(),
                field_mask(&request, "update_mask")?,
            )
            .await
        }
        Action::Delete => operations::delete(call, object, &string_field(&request, "id"))
            .await
            .map(|()| Vec::new()),
        Action::Find => {
            let page = operations::find(call, object, &request).await?;
            find_response(handler, page)
        }
        Action::Upsert => {
            let (wire, created) = operations::upsert(
                call,
                object,
                &string_field(&request, "external_id_field"),
                &string_field(&request, "external_id"),
                resource(),
            )
            .await?;
            upsert_response(handler, wire, created)
        }
    }
}

fn message_field(request: &DynamicMessage, name: Option<&str>) -> Option<DynamicMessage> {
    let field = request.descriptor().get_field_by_name(name?)?;
    if !request.has_field(&field) {
        return None;
    }
    match request.get_field(&field).as_ref() {
        ProtoValue::Message(message) => Some(message.clone()),
        _ => None,
    }
}

fn string_field(request: &DynamicMessage, name: &str) -> String {
    match request.get_field_by_name(name).as_deref() {
        Some(ProtoValue::String(text)) => text.clone(),
        _ => String::new(),
    }
}

fn field_mask(
    request: &DynamicMessage,
    name: &str,
) -> Result<Option<prost_types::FieldMask>, GatewayError> {
    match message_field(request, Some(name)) {
        Some(mask) => mask
            .transcode_to()
            .map(Some)
            .map_err(|error| GatewayError::Internal(format!("reading {name}: {error}"))),
        None => Ok(None),
    }
}

/// The number of a response field the mapping checked exists.
fn number_of(message: &MessageDescriptor, name: &str) -> Result<u32, GatewayError> {
    message
        .get_field_by_name(name)
        .map(|field| field.number())
        .ok_or_else(|| {
            GatewayError::Internal(format!("{} has no field {name}", message.full_name()))
        })
}

/// Writes a length-delimited field.
fn put_bytes(wire: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    use prost::encoding::{WireType, encode_key, encode_varint};
    encode_key(number, WireType::LengthDelimited, wire);
    encode_varint(bytes.len() as u64, wire);
    wire.extend_from_slice(bytes);
}

fn find_response(handler: &MethodHandler, page: Page) -> Result<Vec<u8>, GatewayError> {
    let items = number_of(
        &handler.output,
        handler.resource_field.as_deref().unwrap_or_default(),
    )?;
    let token = number_of(&handler.output, "next_page_token")?;
    let mut wire = Vec::with_capacity(
        page.resources
            .iter()
            .map(|resource| resource.len() + 4)
            .sum(),
    );
    for resource in &page.resources {
        put_bytes(&mut wire, items, resource);
    }
    if !page.next_page_token.is_empty() {
        put_bytes(&mut wire, token, page.next_page_token.as_bytes());
    }
    Ok(wire)
}

fn upsert_response(
    handler: &MethodHandler,
    resource: Vec<u8>,
    created: bool,
) -> Result<Vec<u8>, GatewayError> {
    let resource_number = handler.output_resource.ok_or_else(|| {
        GatewayError::Internal(format!(
            "{} has no resource field",
            handler.output.full_name()
        ))
    })?;
    let mut wire = Vec::with_capacity(resource.len() + 8);
    put_bytes(&mut wire, resource_number, &resource);
    if created {
        prost::encoding::bool::encode(number_of(&handler.output, "created")?, &created, &mut wire);
    }
    Ok(wire)
}

/// Decodes requests by the method's input descriptor (a failure is INVALID_ARGUMENT, as for the
/// built-in services) and writes responses already encoded.
#[derive(Debug, Clone)]
struct SchemaCodec {
    input: MessageDescriptor,
}

impl Codec for SchemaCodec {
    type Encode = Vec<u8>;
    type Decode = DynamicMessage;
    type Encoder = EncodedWriter;
    type Decoder = DynamicReader;

    fn encoder(&mut self) -> Self::Encoder {
        EncodedWriter
    }

    fn decoder(&mut self) -> Self::Decoder {
        DynamicReader {
            input: self.input.clone(),
        }
    }
}

#[derive(Debug)]
struct EncodedWriter;

impl Encoder for EncodedWriter {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, buffer: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buffer.put_slice(&item);
        Ok(())
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

#[derive(Debug)]
struct DynamicReader {
    input: MessageDescriptor,
}

impl Decoder for DynamicReader {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, buffer: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, Status> {
        DynamicMessage::decode(self.input.clone(), buffer)
            .map(Some)
            .map_err(|error| Status::from(undecodable(&error)))
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_field_missing_or_retyped_in_the_org_differs_and_a_new_one_does_not() {
        let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/schemas/acme/v1/social_care.proto");
        let schema = crate::schema::compile::load(&example).unwrap();
        let persona = &schema
            .services
            .iter()
            .find(|service| service.object.api_name == "Hootsuite_Contact_Persona__c")
            .unwrap()
            .object;
        let mut fields: Vec<serde_json::Value> = persona
            .fields
            .iter()
            .filter(|field| field.api != "VIP__c")
            .map(|field| {
                let field_type = match field.api.as_str() {
                    "Social_Network__c" => "string",
                    _ => field.salesforce_type.as_str(),
                };
                json!({"name": field.api.to_ascii_lowercase(), "type": field_type})
            })
            .collect();
        fields.push(json!({"name": "New__c", "type": "string"}));
        let describe: ObjectDescribe =
            serde_json::from_value(json!({"name": persona.api_name, "fields": fields})).unwrap();
        assert_eq!(
            differences(persona, Some(&describe)),
            HashMap::from([
                ("vip".to_owned(), Drift::Missing),
                (
                    "social_network".to_owned(),
                    Drift::TypeChanged {
                        schema: "picklist".into(),
                        org: "string".into()
                    }
                ),
            ])
        );
        assert_eq!(
            differences(persona, None),
            HashMap::from([(String::new(), Drift::ObjectMissing)])
        );
        assert_eq!(
            Drift::TypeChanged {
                schema: "picklist".into(),
                org: "string".into()
            }
            .to_string(),
            "its type is string in the org, picklist in the schema"
        );
    }
}
