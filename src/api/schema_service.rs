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
use super::typed::{ObjectRef, ObjectType};
use super::wire::undecodable;
use crate::error::{GatewayError, Reason};
use crate::schema::compile::{Action, SchemaFile};
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

/// The schema services in force, by request path.
#[derive(Debug, Default)]
pub struct SchemaServices {
    methods: HashMap<String, Arc<MethodHandler>>,
    schemas: Vec<TenantSchema>,
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
        Ok(Self { methods, schemas })
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
        let handler = self
            .services
            .load()
            .methods
            .get(request.uri().path())
            .cloned();
        let Some(handler) = handler else {
            return Box::pin(async { Ok(Status::unimplemented("").into_http()) });
        };
        let state = self.state.clone();
        Box::pin(async move {
            let codec = SchemaCodec {
                input: handler.input.clone(),
            };
            let method = SchemaMethod { handler, state };
            Ok(Grpc::new(codec).unary(method, request).await)
        })
    }
}

/// One call of a schema method.
struct SchemaMethod<Limiter> {
    handler: Arc<MethodHandler>,
    state: ApiState<Limiter>,
}

impl<Limiter: Send + Sync + 'static> UnaryService<DynamicMessage> for SchemaMethod<Limiter> {
    type Response = Vec<u8>;
    type Future = BoxFuture<Result<Response<Vec<u8>>, Status>>;

    fn call(&mut self, request: Request<DynamicMessage>) -> Self::Future {
        let handler = Arc::clone(&self.handler);
        let call = self.state.call_context(&request);
        Box::pin(async move {
            let call = call?;
            respond(run(&call, &handler, request.into_inner()).await)
        })
    }
}

async fn run(
    call: &CallContext,
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
    let object = &handler.object;
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
