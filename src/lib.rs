//! sfgate: a gRPC connector gateway for Salesforce.
//!
//! A call flows one way through the modules:
//! `tenancy` (who is calling, for which tenant) → `ratelimit` (the tenant's rate and concurrency
//! limits) → `api` (one file per gRPC service: validation and
//! proto ↔ Salesforce mapping) → `salesforce` (REST/SOAP client, SOQL builder and escaper, ID
//! checks, error decoding) → `auth` (the tenant's OAuth token, cached and minted once) →
//! `credentials` (where the tenant's secrets come from). Lower modules never import higher ones.
//!
//! Around them: `config` (typed, validated configuration), `error` (the one place errors become
//! gRPC statuses), `server` (wires a configuration into a running server, and the admin port),
//! `telemetry` (logs, spans exported over OTLP, Prometheus metrics; its RPC layer is outermost).
//! `sandbox` is an in-memory Salesforce org reached only over HTTP; it imports nothing of the
//! gateway and serves the default `cargo run` and the tests.

pub mod api;
pub mod auth;
pub mod config;
pub mod credentials;
pub mod error;
pub mod ratelimit;
pub mod salesforce;
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

    /// The public API's descriptors, decoded once.
    pub fn descriptor_pool() -> &'static prost_reflect::DescriptorPool {
        &DESCRIPTOR_POOL
    }
}
