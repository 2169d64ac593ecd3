//! sfgate: a gRPC connector gateway for Salesforce.
//!
//! A call flows one way through the modules, and the imports follow it (`.ci/layers.py` checks
//! that no module imports a higher one and that there is no import circle):
//! `tenancy` (who is calling, for which tenant: the tenant's snapshot goes into the request) →
//! `ratelimit` (the snapshot's limiter) → `api` (the gRPC services: the generic record engine
//! in `api::typed` with one small file per object, the services of schema files served through
//! that same engine (`api::schema_service`), and the hand-written `record_service`, `lookup` and
//! `connection`) → `schema` (an org's describe as a `.proto`, and such files compiled in-process
//! and mapped to the objects they serve) → `salesforce` (REST/SOAP client, SOQL/SOSL builders and their one
//! escaper, ID checks, error decoding) → `auth` (the tenant's OAuth token, cached and minted
//! once) → `credentials` (where the tenant's secrets come from).
//!
//! Around them: [`tenant`], the leaf every layer may name (tenant id, caller, deadline, grants,
//! the per-tenant snapshot); `error`, the one place errors become gRPC statuses (the Salesforce
//! code table and the gateway's own reasons); `config`, serde into typed, validated values;
//! `telemetry` (logs, spans exported over OTLP, Prometheus metrics; its RPC layer is outermost);
//! `server`, which wires a configuration into a running server (routes, reload, drain, the admin
//! port), in front of which `http` turns HTTP/JSON calls into gRPC calls of the same stack.
//! The sandbox org is another crate (`sfgate-sandbox`), a separate Salesforce reached only over
//! HTTP; the library never names it — the binary's demo run hands the gateway an ordinary
//! single-tenant [`config::Config`].

pub mod api;
pub mod auth;
pub mod config;
pub mod credentials;
pub mod error;
pub mod http;
pub mod ratelimit;
pub mod salesforce;
pub mod schema;
pub mod server;
pub mod telemetry;
pub mod tenancy;
pub mod tenant;

/// The generated protobuf types and service stubs of package `sfgate.v1`.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod pb {
    tonic::include_proto!("sfgate.v1");

    /// The descriptor set of the public API, served by reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("sfgate_descriptor");

    static DESCRIPTOR_POOL: std::sync::LazyLock<prost_reflect::DescriptorPool> =
        std::sync::LazyLock::new(|| {
            prost_reflect::DescriptorPool::decode(FILE_DESCRIPTOR_SET)
                .expect("the compiled descriptor set decodes")
        });

    /// The request-path prefix of the API's own methods (health and reflection are outside it).
    pub const API_PATH_PREFIX: &str = "/sfgate.v1.";

    /// Whether a request path is a call of the API — the built-in services or a schema file's
    /// (`/acme.v1.…`) — rather than health or reflection, which need no key and are not limited.
    pub fn is_api_path(path: &str) -> bool {
        !path.starts_with("/grpc.health.v1.") && !path.starts_with("/grpc.reflection.")
    }

    /// The public API's descriptors, decoded once.
    pub fn descriptor_pool() -> &'static prost_reflect::DescriptorPool {
        &DESCRIPTOR_POOL
    }
}
