//! The gRPC services, one file each: request validation, proto to domain, calls into
//! [`crate::salesforce`]. The six typed object services share one implementation
//! ([`records`]) over a per-object description ([`object_type::ObjectType`]).

pub mod account;
pub mod campaign;
pub mod case;
pub mod connection;
pub mod contact;
pub mod context;
mod idempotency;
pub mod lead;
pub mod lookup;
mod object_type;
pub mod opportunity;
mod paging;
mod phone;
pub mod record;
mod record_codec;
mod records;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::error::GatewayError;
use crate::salesforce::SalesforceClient;
use context::{CallContext, CallDeadline, Caller, TenantId};

/// The state the services share: each tenant's org connection, swapped whole when the
/// configuration reloads (a call in flight keeps the connection it started with).
pub struct Gateway {
    clients: arc_swap::ArcSwap<HashMap<TenantId, SalesforceClient>>,
    idempotency: Arc<idempotency::IdempotencyStore>,
}

impl fmt::Debug for Gateway {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Gateway")
            .field(
                "tenants",
                &self.clients.load().keys().cloned().collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Gateway {
    /// Creates the gateway state from each tenant's org connection.
    pub fn new(clients: HashMap<TenantId, SalesforceClient>) -> Self {
        Self {
            clients: arc_swap::ArcSwap::from_pointee(clients),
            idempotency: Arc::default(),
        }
    }

    /// Creates the gateway state with idempotency keys kept in Redis (shared mode).
    pub fn with_shared_idempotency(
        clients: HashMap<TenantId, SalesforceClient>,
        redis_url: &str,
        key_prefix: &str,
    ) -> Result<Self, redis::RedisError> {
        Ok(Self {
            clients: arc_swap::ArcSwap::from_pointee(clients),
            idempotency: Arc::new(idempotency::IdempotencyStore::shared(
                redis_url, key_prefix,
            )?),
        })
    }

    /// Puts a reloaded configuration's org connections in force.
    pub fn replace_clients(&self, clients: HashMap<TenantId, SalesforceClient>) {
        self.clients.store(Arc::new(clients));
    }

    /// The org connections in force.
    pub fn clients(&self) -> Arc<HashMap<TenantId, SalesforceClient>> {
        self.clients.load_full()
    }

    /// The context of an authenticated call: who, which org, until when.
    fn call_context<T>(&self, request: &Request<T>) -> Result<CallContext, GatewayError> {
        let caller = request
            .extensions()
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| {
                GatewayError::Internal("call reached a handler unauthenticated".into())
            })?;
        let client = self
            .clients
            .load()
            .get(&caller.tenant)
            .cloned()
            .ok_or_else(|| GatewayError::PermissionDenied {
                reason: "TENANT_NOT_CONFIGURED",
                message: format!("tenant {:?} has no org connection", caller.tenant.as_str()),
            })?;
        let deadline = request
            .extensions()
            .get::<CallDeadline>()
            .map(|CallDeadline(at)| *at);
        let idempotency_key = match request.metadata().get(idempotency::IDEMPOTENCY_HEADER) {
            Some(value) => {
                let key = value.to_str().map_err(|_| {
                    GatewayError::invalid_field(
                        idempotency::IDEMPOTENCY_HEADER,
                        "must be printable ASCII",
                    )
                })?;
                idempotency::check_key(key)?;
                Some(key.to_owned())
            }
            None => None,
        };
        Ok(CallContext {
            tenant: caller.tenant,
            client,
            deadline,
            idempotency_key,
            idempotency: Arc::clone(&self.idempotency),
        })
    }
}

/// Turns a handler's outcome into the gRPC response.
fn respond<T>(outcome: Result<T, GatewayError>) -> Result<Response<T>, Status> {
    outcome.map(Response::new).map_err(Status::from)
}

/// Implements a typed object service: the six shared RPCs delegate to [`records`]; extra RPCs of
/// the object follow in the braces.
macro_rules! typed_object_service {
    (
        $(#[$meta:meta])*
        $service:ident implements $server_trait:ident for $object:expr, resource $resource:ty {
            create: $create:ident($create_request:ty) takes $create_field:ident,
            get: $get:ident($get_request:ty),
            update: $update:ident($update_request:ty) takes $update_field:ident,
            delete: $delete:ident($delete_request:ty),
            find: $find:ident($find_request:ty) -> $find_response:ident lists $items:ident,
            upsert: $upsert:ident($upsert_request:ty) -> $upsert_response:ident,
        }
        $($extra:tt)*
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $service {
            gateway: std::sync::Arc<$crate::api::Gateway>,
        }

        impl $service {
            /// Creates the service over the shared gateway state.
            pub fn new(gateway: std::sync::Arc<$crate::api::Gateway>) -> Self {
                Self { gateway }
            }
        }

        #[tonic::async_trait]
        impl $server_trait for $service {
            async fn $create(&self, request: tonic::Request<$create_request>) -> Result<tonic::Response<$resource>, tonic::Status> {
                let call = self.gateway.call_context(&request)?;
                $crate::api::respond($crate::api::records::create(&call, &$object, request.into_inner().$create_field).await)
            }

            async fn $get(&self, request: tonic::Request<$get_request>) -> Result<tonic::Response<$resource>, tonic::Status> {
                let call = self.gateway.call_context(&request)?;
                let request = request.into_inner();
                $crate::api::respond($crate::api::records::get(&call, &$object, &request.id, request.fields).await)
            }

            async fn $update(&self, request: tonic::Request<$update_request>) -> Result<tonic::Response<$resource>, tonic::Status> {
                let call = self.gateway.call_context(&request)?;
                let request = request.into_inner();
                $crate::api::respond(
                    $crate::api::records::update(&call, &$object, request.$update_field, request.update_mask).await,
                )
            }

            async fn $delete(&self, request: tonic::Request<$delete_request>) -> Result<tonic::Response<()>, tonic::Status> {
                let call = self.gateway.call_context(&request)?;
                $crate::api::respond($crate::api::records::delete(&call, &$object, &request.into_inner().id).await)
            }

            async fn $find(&self, request: tonic::Request<$find_request>) -> Result<tonic::Response<$find_response>, tonic::Status> {
                let call = self.gateway.call_context(&request)?;
                let find_request = concat!("sfgate.v1.", stringify!($find_request));
                let page = $crate::api::records::find(&call, &$object, find_request, request.get_ref()).await;
                $crate::api::respond(page.map(|page| $find_response { $items: page.resources, next_page_token: page.next_page_token }))
            }

            async fn $upsert(&self, request: tonic::Request<$upsert_request>) -> Result<tonic::Response<$upsert_response>, tonic::Status> {
                let call = self.gateway.call_context(&request)?;
                let request = request.into_inner();
                let outcome = $crate::api::records::upsert(
                    &call,
                    &$object,
                    &request.external_id_field,
                    &request.external_id,
                    request.$create_field,
                )
                .await;
                $crate::api::respond(outcome.map(|(resource, created)| $upsert_response { $create_field: Some(resource), created }))
            }

            $($extra)*
        }
    };
}
use typed_object_service;

#[cfg(test)]
mod tests {
    use prost_reflect::Kind;

    use super::object_type::{FieldKind, ObjectType};
    use super::record_codec::descriptor;

    const TYPED_OBJECTS: [&ObjectType; 7] = [
        &super::lead::LEAD,
        &super::contact::CONTACT,
        &super::account::ACCOUNT,
        &super::opportunity::OPPORTUNITY,
        &super::case::CASE,
        &super::campaign::CAMPAIGN,
        &super::case::CASE_COMMENT,
    ];

    #[test]
    fn every_proto_field_has_exactly_one_table_row() {
        for object in TYPED_OBJECTS {
            let message = descriptor(object.message).unwrap();
            for field in message.fields() {
                if matches!(field.name(), "id" | "url" | "extra_fields") {
                    continue;
                }
                let rows = object
                    .fields
                    .iter()
                    .filter(|row| row.proto == field.name())
                    .count();
                assert_eq!(
                    rows,
                    1,
                    "{}.{} has {rows} table rows",
                    object.api_name,
                    field.name()
                );
            }
            for row in object.fields {
                let field = message.get_field_by_name(row.proto).unwrap_or_else(|| {
                    panic!(
                        "{}: table row {} is not a proto field",
                        object.api_name, row.proto
                    )
                });
                let writable_needs_presence =
                    row.kind != FieldKind::OutputOnly && !object.request_field.is_empty();
                assert!(
                    !writable_needs_presence || field.supports_presence(),
                    "{}.{} is writable but not `optional`: unset and empty could not be told apart",
                    object.api_name,
                    row.proto
                );
                if matches!(row.kind, FieldKind::Reference | FieldKind::Date) {
                    assert_eq!(
                        field.kind(),
                        Kind::String,
                        "{}.{}",
                        object.api_name,
                        row.proto
                    );
                }
            }
            let api_names: std::collections::HashSet<_> =
                object.fields.iter().map(|row| row.api).collect();
            assert_eq!(
                api_names.len(),
                object.fields.len(),
                "{} maps an API name twice",
                object.api_name
            );
        }
    }

    #[test]
    fn find_criteria_name_request_fields() {
        for object in &TYPED_OBJECTS[..6] {
            let plural = match object.api_name {
                "Opportunity" => "Opportunities".to_owned(),
                other => format!("{other}s"),
            };
            let request = descriptor(&format!("sfgate.v1.Find{plural}Request")).unwrap();
            for criterion in object.criteria {
                assert!(
                    request.get_field_by_name(criterion.proto).is_some(),
                    "{plural}: {}",
                    criterion.proto
                );
            }
        }
    }
}
