//! `ConnectionService`: the connection indicator and instance details an action builder shows.
//! A failing connection is described, not returned as an error.

use tonic::{Request, Response, Status};
use tonic_types::StatusExt;

use super::call::{ApiState, CallContext};
use super::schema_service::{SchemaServices, SharedSchemaServices};
use super::typed::codec;
use crate::error::GatewayError;
use crate::pb::connection_service_server::ConnectionService;
use crate::pb::{ApiUsage, ConnectedUser, Connection, GetConnectionRequest, SchemaDrift};

/// The connection service.
#[derive(Debug)]
pub(crate) struct ConnectionApi<Limiter> {
    state: ApiState<Limiter>,
    schemas: SharedSchemaServices,
}

impl<Limiter> ConnectionApi<Limiter> {
    /// Creates the service over the shared state and the schema services in force.
    pub(crate) fn new(state: ApiState<Limiter>, schemas: SharedSchemaServices) -> Self {
        Self { state, schemas }
    }
}

#[tonic::async_trait]
impl<Limiter: Send + Sync + 'static> ConnectionService for ConnectionApi<Limiter> {
    async fn get_connection(
        &self,
        request: Request<GetConnectionRequest>,
    ) -> Result<Response<Connection>, Status> {
        let call = self.state.call_context(&request)?;
        let mut connection = describe(&call).await;
        describe_schemas(&call, &self.schemas.load_full(), &mut connection).await;
        Ok(Response::new(connection))
    }
}

/// The schema services the tenant uses, their methods among the actions, and how the org's
/// schema differs from them (checked now if no check has succeeded yet).
async fn describe_schemas(
    call: &CallContext,
    schemas: &SchemaServices,
    connection: &mut Connection,
) {
    connection.schema_services = schemas.services_of(&call.tenant);
    if connection.schema_services.is_empty() {
        return;
    }
    connection.actions.extend(schemas.actions_of(&call.tenant));
    let checked = match schemas.drift_of(&call.tenant) {
        Some(checked) if checked.outcome.is_ok() => Some(checked),
        _ => call
            .within_deadline(async { Ok(schemas.check_drift(&call.tenant, &call.client).await) })
            .await
            .unwrap_or(None),
    };
    match checked.as_ref().map(|checked| &checked.outcome) {
        Some(Ok(drifted)) => {
            connection.schema_drift = drifted
                .iter()
                .map(|field| SchemaDrift {
                    service: field.service.clone(),
                    field: field.field.clone(),
                    api_name: field.api_name.clone(),
                    problem: field.drift.to_string(),
                })
                .collect();
        }
        Some(Err(failure)) => connection.schema_check_error = failure.clone(),
        None => {
            connection.schema_check_error =
                "the check did not finish within the call's deadline".to_owned()
        }
    }
}

async fn describe(call: &CallContext) -> Connection {
    let auth = call.client.auth();
    let mut connection = Connection {
        api_version: call.client.api_version().to_owned(),
        actions: codec::api_actions(),
        grant: auth.config().grant.name().to_owned(),
        jwt_audience: auth.jwt_audience_in_use().unwrap_or_default(),
        credentials_provider: auth.config().credentials_provider.to_owned(),
        ..Connection::default()
    };
    let details = call
        .within_deadline(async {
            let instance_url = call.client.instance_url().await?;
            let scopes = call.client.scopes().await?;
            let (used, limit) = call.client.daily_api_requests().await?;
            Ok::<_, GatewayError>((instance_url, scopes, used, limit))
        })
        .await;
    match details {
        Ok((instance_url, scopes, used, limit)) => {
            connection.connected = true;
            connection.instance_url = instance_url.as_str().trim_end_matches('/').to_owned();
            connection.scopes = scopes;
            connection.api_usage = Some(ApiUsage {
                used: i64::try_from(used).unwrap_or(i64::MAX),
                limit: i64::try_from(limit).unwrap_or(i64::MAX),
            });
            // The user is a detail: userinfo needs the openid/profile scopes, which an API-only
            // connected app may not have.
            match call
                .within_deadline(async { Ok(call.client.user_info().await?) })
                .await
            {
                Ok(user) => {
                    connection.org_id = user.organization_id;
                    connection.user = Some(ConnectedUser {
                        id: user.user_id,
                        username: user.preferred_username,
                        name: user.name,
                    });
                }
                Err(error) => {
                    tracing::info!(error = %error, "connection details without the user (userinfo refused)")
                }
            }
        }
        Err(error) => {
            let status = Status::from(error);
            connection.error_reason = status
                .get_error_details()
                .error_info()
                .map(|info| info.reason.clone())
                .unwrap_or_default();
            connection.error_message = status.message().to_owned();
        }
    }
    connection
}
