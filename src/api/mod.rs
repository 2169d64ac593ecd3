//! The gRPC services. Two designs live here:
//!
//! - `typed`: the generic record engine and the six typed object services over it (one small
//!   file per object: its field table, its find criteria, its extra RPCs);
//! - the hand-written services: `record_service` (any object, untyped `Struct` fields),
//!   `lookup` (the contact-center data dip) and `connection` (the connection indicator).
//!
//! `call` is what a handler knows of one call; [`routes`] is the one list of services, read by
//! the server, its health reporting and reflection.

mod call;
mod connection;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod idempotency;
mod json_struct;
mod lookup;
mod paging;
mod phone;
mod record_service;
mod schema_service;
mod typed;
pub(crate) mod wire;

use std::convert::Infallible;
use std::sync::Arc;

use tonic::server::NamedService;
use tonic::service::{Routes, RoutesBuilder};

use crate::pb::account_service_server::AccountServiceServer;
use crate::pb::campaign_service_server::CampaignServiceServer;
use crate::pb::case_service_server::CaseServiceServer;
use crate::pb::connection_service_server::ConnectionServiceServer;
use crate::pb::contact_service_server::ContactServiceServer;
use crate::pb::lead_service_server::LeadServiceServer;
use crate::pb::lookup_service_server::LookupServiceServer;
use crate::pb::opportunity_service_server::OpportunityServiceServer;
use crate::pb::record_service_server::RecordServiceServer;
pub use call::ApiState;
use connection::ConnectionApi;
use lookup::LookupApi;
use record_service::RecordApi;
pub use schema_service::{SchemaRouter, SchemaServices, SharedSchemaServices, TenantSchema};
use typed::account::AccountApi;
use typed::campaign::CampaignApi;
use typed::case::CaseApi;
use typed::contact::ContactApi;
use typed::lead::LeadApi;
use typed::opportunity::OpportunityApi;

/// The gateway's own services, ready to serve, and their names (for health and reflection).
#[derive(Debug)]
pub struct ApiRoutes {
    /// The services, to serve with health and reflection.
    pub routes: Routes,
    /// Their fully qualified names, e.g. `sfgate.v1.LeadService`.
    pub names: Vec<&'static str>,
}

/// Every service of the public API over the shared state; `Limiter` is the tenant snapshot's
/// limiter type (see [`ApiState`]). `schemas` are the schema services in force, which the
/// connection service reports on (they are served by [`SchemaRouter`]).
pub fn routes<Limiter: Send + Sync + 'static>(
    state: &ApiState<Limiter>,
    schemas: &SharedSchemaServices,
) -> ApiRoutes {
    let mut builder = RoutesBuilder::default();
    let mut names = Vec::new();
    let mut serve = |name: &'static str| names.push(name);
    serve(add(
        &mut builder,
        LeadServiceServer::new(LeadApi::new(state.clone())),
    ));
    serve(add(
        &mut builder,
        ContactServiceServer::new(ContactApi::new(state.clone())),
    ));
    serve(add(
        &mut builder,
        AccountServiceServer::new(AccountApi::new(state.clone())),
    ));
    serve(add(
        &mut builder,
        OpportunityServiceServer::new(OpportunityApi::new(state.clone())),
    ));
    serve(add(
        &mut builder,
        CaseServiceServer::new(CaseApi::new(state.clone())),
    ));
    serve(add(
        &mut builder,
        CampaignServiceServer::new(CampaignApi::new(state.clone())),
    ));
    serve(add(
        &mut builder,
        LookupServiceServer::new(LookupApi::new(state.clone())),
    ));
    serve(add(
        &mut builder,
        ConnectionServiceServer::new(ConnectionApi::new(state.clone(), Arc::clone(schemas))),
    ));
    serve(add(
        &mut builder,
        RecordServiceServer::new(RecordApi::new(state.clone())),
    ));
    ApiRoutes {
        routes: builder.routes(),
        names,
    }
}

/// Adds a service to the routes; its name, for the list.
fn add<S>(builder: &mut RoutesBuilder, service: S) -> &'static str
where
    S: tower::Service<http::Request<tonic::body::Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Response: axum::response::IntoResponse,
    S::Future: Send + 'static,
{
    builder.add_service(service);
    S::NAME
}
