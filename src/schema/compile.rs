//! Compiles a schema file (`[[schemas]]`) in-process with `protox` — no protoc at run time — and
//! maps it: every service of the file must serve one Salesforce object (a message with the
//! `sfgate.v1.object` option) with the record actions, every field of that message must name its
//! Salesforce field and type (`sfgate.v1.field`), and the type must map to the field's proto type
//! by the one table ([`super::field_types`]). Anything else is refused with the file, line and
//! element named.

use std::fmt;
use std::path::{Path, PathBuf};

use miette::Diagnostic as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, ExtensionDescriptor, FieldDescriptor, Kind, MessageDescriptor,
    MethodDescriptor, ServiceDescriptor, Value,
};
use protox::file::{
    ChainFileResolver, DescriptorSetFileResolver, File, FileResolver, GoogleFileResolver,
};
use sha2::Digest as _;

use super::field_types::{ProtoType, proto_type_of};

/// The largest schema file read (a describe of 800 fields is well under 1 MiB).
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// A schema file that does not compile or does not map: the file, the line, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// The file as configured.
    pub file: String,
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong, naming the element.
    pub message: String,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(formatter, "{}:{line}: {}", self.file, self.message),
            None => write!(formatter, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for SchemaError {}

/// A record action a schema method performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `Create…`: POST a record.
    Create,
    /// `Get…`: read a record by ID.
    Get,
    /// `Update…`: PATCH the masked fields.
    Update,
    /// `Delete…`: delete by ID.
    Delete,
    /// `Find…`: SOQL by the request's criteria, a page at a time.
    Find,
    /// `Upsert…`: create or update by external ID.
    Upsert,
}

/// The actions by method-name prefix.
const ACTIONS: [(&str, Action); 6] = [
    ("Create", Action::Create),
    ("Get", Action::Get),
    ("Update", Action::Update),
    ("Delete", Action::Delete),
    ("Find", Action::Find),
    ("Upsert", Action::Upsert),
];

/// One mapped field of a resource message.
#[derive(Debug, Clone)]
pub struct SchemaField {
    /// The proto field name (`social_network`).
    pub proto: String,
    /// The Salesforce API name (`Social_Network__c`).
    pub api: String,
    /// The Salesforce type it was generated from (`picklist`).
    pub salesforce_type: String,
    /// Its proto type, by the table.
    pub proto_type: ProtoType,
    /// Set by Salesforce.
    pub output_only: bool,
}

/// A Salesforce object as a schema file carries it.
#[derive(Debug, Clone)]
pub struct ObjectSchema {
    /// API name, e.g. `Hootsuite_Contact_Persona__c`.
    pub api_name: String,
    /// Key prefix of its IDs.
    pub key_prefix: String,
    /// The resource message.
    pub message: MessageDescriptor,
    /// Its mapped fields, in message order (not `id` and `url`).
    pub fields: Vec<SchemaField>,
}

/// A find criterion: a request field and the API field it must equal.
#[derive(Debug, Clone)]
pub struct SchemaCriterion {
    /// The request field.
    pub proto: String,
    /// The API field.
    pub api: String,
}

/// One method of a schema service.
#[derive(Debug, Clone)]
pub struct SchemaMethod {
    /// The method.
    pub descriptor: MethodDescriptor,
    /// What it does.
    pub action: Action,
    /// The request field holding the resource (Create, Update, Upsert), or the response field
    /// holding the found records (Find).
    pub resource_field: Option<String>,
    /// Find's criteria.
    pub criteria: Vec<SchemaCriterion>,
}

/// A service of a schema file: the object it serves, and its methods.
#[derive(Debug, Clone)]
pub struct ObjectService {
    /// The service.
    pub descriptor: ServiceDescriptor,
    /// Its object.
    pub object: ObjectSchema,
    /// Its methods.
    pub methods: Vec<SchemaMethod>,
}

/// A compiled and mapped schema file.
#[derive(Debug, Clone)]
pub struct SchemaFile {
    /// The file as configured.
    pub path: PathBuf,
    /// Its descriptors and everything they import.
    pub pool: DescriptorPool,
    /// The encoded `FileDescriptorSet` of the file alone (for reflection).
    pub file_descriptor_set: Vec<u8>,
    /// SHA-256 of the file's text, to tell an unchanged file on reload (see [`digest`]).
    pub digest: [u8; 32],
    /// Its services.
    pub services: Vec<ObjectService>,
}

/// Reads, compiles and maps the file at `path`.
pub fn load(path: &Path) -> Result<SchemaFile, SchemaError> {
    compile_source(path, &read(path)?)
}

/// The text of the schema file at `path`, refused past 8 MiB.
pub fn read(path: &Path) -> Result<String, SchemaError> {
    let error = |message: String| SchemaError {
        file: path.display().to_string(),
        line: None,
        message,
    };
    let size = std::fs::metadata(path)
        .map_err(|io| error(format!("cannot read it: {io}")))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(error(format!(
            "is {size} bytes; at most {MAX_FILE_BYTES} are read"
        )));
    }
    std::fs::read_to_string(path).map_err(|io| error(format!("cannot read it: {io}")))
}

/// SHA-256 of a schema file's text, as [`SchemaFile::digest`] holds it: a reload whose file has
/// the same digest keeps the compiled one (compiling costs about 0.2 ms a field).
pub fn digest(source: &str) -> [u8; 32] {
    sha2::Sha256::digest(source.as_bytes()).into()
}

/// Compiles and maps `source`, the text of the file at `path`.
pub fn compile_source(path: &Path, source: &str) -> Result<SchemaFile, SchemaError> {
    let display = path.display().to_string();
    let error = |line: Option<usize>, message: String| SchemaError {
        file: display.clone(),
        line,
        message,
    };
    let (pool, file_descriptor_set, name) =
        compile(&display, source).map_err(|(offset, message)| {
            error(offset.map(|offset| line_of_offset(source, offset)), message)
        })?;
    let file = pool
        .get_file_by_name(&name)
        .ok_or_else(|| error(None, "compiled to no file".to_owned()))?;
    let options = Options::of(&pool).map_err(|message| error(None, message))?;
    let mut services = Vec::new();
    for service in file.services() {
        let mapped = map_service(&options, &service).map_err(|(path, message)| {
            error(
                line_of_path(&file.file_descriptor_proto().source_code_info, &path),
                message,
            )
        })?;
        services.push(mapped);
    }
    if services.is_empty() {
        return Err(error(None, "has no service to serve".to_owned()));
    }
    Ok(SchemaFile {
        path: path.to_owned(),
        pool,
        file_descriptor_set,
        services,
        digest: digest(source),
    })
}

/// The field numbers of every resource message of a schema file, by object and field API name
/// (for regenerating it without renumbering).
pub fn numbers_of(schema: &SchemaFile) -> super::generate::PreviousNumbers {
    /// Wider reserved ranges (`reserved 100 to max`) are not carried over number by number.
    const CARRIED_RANGE: u32 = 10_000;
    let mut numbers = super::generate::PreviousNumbers::new();
    for service in &schema.services {
        let object = &service.object;
        for field in &object.fields {
            if let Some(descriptor) = object.message.get_field_by_name(&field.proto) {
                numbers.field(
                    &object.api_name,
                    &field.api,
                    descriptor.number(),
                    field.proto_type,
                );
            }
        }
        for range in object.message.reserved_ranges() {
            if range.end.saturating_sub(range.start) <= CARRIED_RANGE {
                for number in range {
                    numbers.reserved(&object.api_name, number);
                }
            }
        }
    }
    numbers
}

/// The name the file compiles under: its package's directories and its own name
/// (`acme/v1/objects.proto`), as buf lays files out; unique per package.
fn unique_name(package: &str, path: &Path) -> String {
    let base = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "schema.proto".to_owned());
    if package.is_empty() {
        base
    } else {
        format!("{}/{base}", package.replace('.', "/"))
    }
}

/// Compiles `source` against the gateway's own files (`sfgate/v1/schema.proto`, the HTTP
/// annotations) and the well-known types: the pool, the file's own descriptor set and its name.
/// An error has its byte offset when protox knows it.
fn compile(display: &str, source: &str) -> Result<Compiled, (Option<usize>, String)> {
    let parsed = File::from_source(display, source).map_err(|error| describe_error(&error))?;
    let mut descriptor = parsed.file_descriptor_proto().clone();
    let name = unique_name(descriptor.package(), Path::new(display));
    descriptor.name = Some(name.clone());
    let mut resolver = ChainFileResolver::new();
    resolver.add(OneFile {
        name: name.clone(),
        descriptor,
    });
    let built_in = DescriptorSetFileResolver::decode(crate::pb::FILE_DESCRIPTOR_SET)
        .map_err(|error| (None, format!("the gateway's own descriptors: {error}")))?;
    resolver.add(built_in);
    resolver.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_source_info(true);
    compiler
        .open_file(&name)
        .map_err(|error| describe_error(&error))?;
    Ok((
        compiler.descriptor_pool(),
        compiler.encode_file_descriptor_set(),
        name,
    ))
}

/// A compiled file: its pool, its own encoded descriptor set, and the name it compiled under.
type Compiled = (DescriptorPool, Vec<u8>, String);

/// The schema file itself, already parsed.
struct OneFile {
    name: String,
    descriptor: prost_types::FileDescriptorProto,
}

impl FileResolver for OneFile {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        if name == self.name {
            Ok(File::from_file_descriptor_proto(self.descriptor.clone()))
        } else {
            Err(protox::Error::file_not_found(name))
        }
    }
}

/// A protox error's message and, from its first label, its byte offset.
fn describe_error(error: &protox::Error) -> (Option<usize>, String) {
    let offset = error
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|label| label.offset());
    let mut message = error.to_string();
    if let Some(help) = error.help() {
        message.push_str(&format!(" ({help})"));
    }
    (offset, message)
}

fn line_of_offset(source: &str, offset: usize) -> usize {
    source
        .get(..offset.min(source.len()))
        .map_or(0, |before| before.matches('\n').count())
        + 1
}

/// The 1-based line of the element at `path` in the file's source info.
fn line_of_path(info: &Option<prost_types::SourceCodeInfo>, path: &[i32]) -> Option<usize> {
    let location = info
        .as_ref()?
        .location
        .iter()
        .find(|location| location.path == path)?;
    location
        .span
        .first()
        .and_then(|line| usize::try_from(*line).ok())
        .map(|line| line + 1)
}

/// The gateway's options, as the compiled pool knows them.
struct Options {
    object: ExtensionDescriptor,
    field: ExtensionDescriptor,
}

impl Options {
    fn of(pool: &DescriptorPool) -> Result<Self, String> {
        let extension = |name: &str| {
            pool.get_extension_by_name(name).ok_or_else(|| {
                format!("does not import \"sfgate/v1/schema.proto\", which defines ({name})")
            })
        };
        Ok(Self {
            object: extension("sfgate.v1.object")?,
            field: extension("sfgate.v1.field")?,
        })
    }

    fn of_message(&self, message: &MessageDescriptor) -> Option<DynamicMessage> {
        extension_value(&message.options(), &self.object)
    }

    fn of_field(&self, field: &FieldDescriptor) -> Option<DynamicMessage> {
        extension_value(&field.options(), &self.field)
    }
}

fn extension_value(
    options: &DynamicMessage,
    extension: &ExtensionDescriptor,
) -> Option<DynamicMessage> {
    if !options.has_extension(extension) {
        return None;
    }
    match options.get_extension(extension).as_ref() {
        Value::Message(message) => Some(message.clone()),
        _ => None,
    }
}

fn string_of(message: &DynamicMessage, name: &str) -> String {
    match message.get_field_by_name(name).as_deref() {
        Some(Value::String(text)) => text.clone(),
        _ => String::new(),
    }
}

fn bool_of(message: &DynamicMessage, name: &str) -> bool {
    matches!(
        message.get_field_by_name(name).as_deref(),
        Some(Value::Bool(true))
    )
}

/// An element's source path and what is wrong with it.
type MapError = (Vec<i32>, String);

fn map_service(options: &Options, service: &ServiceDescriptor) -> Result<ObjectService, MapError> {
    let at = |path: &[i32], message: String| (path.to_vec(), message);
    let resource = service
        .methods()
        .filter_map(|method| {
            let output = method.output();
            options.of_message(&output).map(|_| output)
        })
        .next()
        .ok_or_else(|| {
            at(
                service.path(),
                format!(
                    "service {} has no method returning a message with the (sfgate.v1.object) option: generate it with `sfgate schema`",
                    service.full_name()
                ),
            )
        })?;
    let object = map_object(options, &resource)?;
    let mut methods = Vec::new();
    for method in service.methods() {
        methods.push(map_method(options, &object, &method)?);
    }
    Ok(ObjectService {
        descriptor: service.clone(),
        object,
        methods,
    })
}

fn map_object(options: &Options, message: &MessageDescriptor) -> Result<ObjectSchema, MapError> {
    let object = options
        .of_message(message)
        .unwrap_or_else(|| DynamicMessage::new(message.clone()));
    let api_name = string_of(&object, "api_name");
    let key_prefix = string_of(&object, "key_prefix");
    let name = message.full_name();
    if !crate::salesforce::soql::is_identifier(&api_name) || api_name.contains('.') {
        return Err((
            message.path().to_vec(),
            format!(
                "message {name}: (sfgate.v1.object).api_name {api_name:?} is not an object API name"
            ),
        ));
    }
    if key_prefix.len() != 3
        || !key_prefix
            .chars()
            .all(|letter| letter.is_ascii_alphanumeric())
    {
        return Err((
            message.path().to_vec(),
            format!(
                "message {name}: (sfgate.v1.object).key_prefix {key_prefix:?} is not a 3-character key prefix"
            ),
        ));
    }
    let mut fields = Vec::new();
    for field in message.fields() {
        if matches!(field.name(), "id" | "url") {
            if field.kind() != Kind::String || field.is_list() {
                return Err((
                    field.path().to_vec(),
                    format!("field {}: must be a string", field.full_name()),
                ));
            }
            continue;
        }
        fields.push(map_field(options, &field)?);
    }
    Ok(ObjectSchema {
        api_name,
        key_prefix,
        message: message.clone(),
        fields,
    })
}

/// The proto type a descriptor field has, in the table's terms.
fn proto_type_of_field(field: &FieldDescriptor) -> Option<ProtoType> {
    let kind = field.kind();
    if field.is_map() {
        return None;
    }
    if field.is_list() {
        return (kind == Kind::String).then_some(ProtoType::RepeatedString);
    }
    Some(match kind {
        Kind::String => ProtoType::String,
        Kind::Bool => ProtoType::Bool,
        Kind::Int32 => ProtoType::Int32,
        Kind::Int64 => ProtoType::Int64,
        Kind::Double => ProtoType::Double,
        Kind::Bytes => ProtoType::Bytes,
        Kind::Message(message) => match message.full_name() {
            "google.protobuf.Timestamp" => ProtoType::Timestamp,
            "google.protobuf.Value" => ProtoType::AnyValue,
            "sfgate.v1.Address" => ProtoType::Address,
            "sfgate.v1.GeoLocation" => ProtoType::GeoLocation,
            _ => return None,
        },
        _ => return None,
    })
}

/// Whether a field of proto type `actual` may carry a Salesforce type that maps to `expected`
/// (dates and times are strings on the wire).
fn carries(actual: ProtoType, expected: ProtoType) -> bool {
    let wire = |proto_type: ProtoType| match proto_type {
        ProtoType::Date | ProtoType::Time => ProtoType::String,
        other => other,
    };
    wire(actual) == wire(expected)
}

fn map_field(options: &Options, field: &FieldDescriptor) -> Result<SchemaField, MapError> {
    let at = |message: String| {
        (
            field.path().to_vec(),
            format!("field {}: {message}", field.full_name()),
        )
    };
    let option = options.of_field(field).ok_or_else(|| {
        at("has no (sfgate.v1.field) option naming its Salesforce field".to_owned())
    })?;
    let api = string_of(&option, "api_name");
    if !crate::salesforce::soql::is_identifier(&api) || api.contains('.') {
        return Err(at(format!(
            "(sfgate.v1.field).api_name {api:?} is not a field API name"
        )));
    }
    let salesforce_type = string_of(&option, "type");
    let expected = proto_type_of(&salesforce_type).ok_or_else(|| {
        at(format!(
            "(sfgate.v1.field).type {salesforce_type:?} is not a Salesforce field type sfgate maps"
        ))
    })?;
    let actual = proto_type_of_field(field)
        .filter(|actual| carries(*actual, expected))
        .ok_or_else(|| {
            at(format!(
                "Salesforce type {salesforce_type} is {} in proto, not {}",
                expected.proto_name(),
                describe_proto_type(field)
            ))
        })?;
    let _ = actual;
    Ok(SchemaField {
        proto: field.name().to_owned(),
        api,
        salesforce_type: salesforce_type.to_ascii_lowercase(),
        proto_type: expected,
        output_only: bool_of(&option, "output_only"),
    })
}

fn describe_proto_type(field: &FieldDescriptor) -> String {
    let kind = match field.kind() {
        Kind::Message(message) => message.full_name().to_owned(),
        Kind::Enum(enumeration) => enumeration.full_name().to_owned(),
        other => format!("{other:?}").to_ascii_lowercase(),
    };
    if field.is_list() {
        format!("repeated {kind}")
    } else {
        kind
    }
}

fn map_method(
    options: &Options,
    object: &ObjectSchema,
    method: &MethodDescriptor,
) -> Result<SchemaMethod, MapError> {
    let name = method.full_name().to_owned();
    let at = |message: String| (method.path().to_vec(), format!("method {name}: {message}"));
    let action = ACTIONS
        .iter()
        .find(|(prefix, _)| method.name().starts_with(prefix))
        .map(|(_, action)| *action)
        .ok_or_else(|| at("sfgate serves Create, Get, Update, Delete, Find and Upsert methods; the name must start with one".to_owned()))?;
    let input = method.input();
    let output = method.output();
    let resource = &object.message;
    let field_of =
        |message: &MessageDescriptor, wanted: &str, kind: Kind| -> Result<(), MapError> {
            match message.get_field_by_name(wanted) {
                Some(field) if field.kind() == kind && !field.is_list() => Ok(()),
                _ => Err(at(format!(
                    "{} needs a field {wanted} of type {kind:?}",
                    message.full_name()
                ))),
            }
        };
    let resource_field_in =
        |message: &MessageDescriptor, repeated: bool| -> Result<String, MapError> {
            message
                .fields()
                .find(|field| {
                    field.kind() == Kind::Message(resource.clone()) && field.is_list() == repeated
                })
                .map(|field| field.name().to_owned())
                .ok_or_else(|| {
                    at(format!(
                        "{} has no {}field of type {}",
                        message.full_name(),
                        if repeated { "repeated " } else { "" },
                        resource.full_name()
                    ))
                })
        };
    let returns = |expected: &MessageDescriptor| {
        if &output == expected {
            Ok(())
        } else {
            Err(at(format!(
                "must return {}, not {}",
                expected.full_name(),
                output.full_name()
            )))
        }
    };
    let field_mask = |message: &MessageDescriptor, wanted: &str| -> Result<(), MapError> {
        match message.get_field_by_name(wanted) {
            None => Ok(()),
            Some(field) if matches!(field.kind(), Kind::Message(mask) if mask.full_name() == "google.protobuf.FieldMask") => {
                Ok(())
            }
            Some(_) => Err(at(format!("{wanted} must be a google.protobuf.FieldMask"))),
        }
    };
    let mut resource_field = None;
    let mut criteria = Vec::new();
    match action {
        Action::Create => {
            returns(resource)?;
            resource_field = Some(resource_field_in(&input, false)?);
        }
        Action::Get => {
            returns(resource)?;
            field_of(&input, "id", Kind::String)?;
            field_mask(&input, "fields")?;
        }
        Action::Update => {
            returns(resource)?;
            resource_field = Some(resource_field_in(&input, false)?);
            field_mask(&input, "update_mask")?;
        }
        Action::Delete => {
            if output.full_name() != "google.protobuf.Empty" {
                return Err(at(format!(
                    "must return google.protobuf.Empty, not {}",
                    output.full_name()
                )));
            }
            field_of(&input, "id", Kind::String)?;
        }
        Action::Find => {
            field_of(&input, "page_size", Kind::Int32)?;
            field_of(&input, "page_token", Kind::String)?;
            field_of(&output, "next_page_token", Kind::String)?;
            resource_field = Some(resource_field_in(&output, true)?);
            for field in input.fields() {
                if matches!(field.name(), "page_size" | "page_token") {
                    continue;
                }
                let option = options.of_field(&field).ok_or_else(|| {
                    at(format!(
                        "criterion {} has no (sfgate.v1.field) option naming the field it matches",
                        field.name()
                    ))
                })?;
                if field.kind() != Kind::String || field.is_list() {
                    return Err(at(format!("criterion {} must be a string", field.name())));
                }
                criteria.push(SchemaCriterion {
                    proto: field.name().to_owned(),
                    api: string_of(&option, "api_name"),
                });
            }
            if criteria.is_empty() {
                return Err(at(format!("{} has no criterion", input.full_name())));
            }
        }
        Action::Upsert => {
            field_of(&input, "external_id_field", Kind::String)?;
            field_of(&input, "external_id", Kind::String)?;
            field_of(&output, "created", Kind::Bool)?;
            resource_field = Some(resource_field_in(&input, false)?);
            resource_field_in(&output, false)?;
        }
    }
    Ok(SchemaMethod {
        descriptor: method.clone(),
        action,
        resource_field,
        criteria,
    })
}
