//! The schema files of the configuration (`[[schemas]]`), and everything served from them:
//! their services ([`crate::api::SchemaRouter`]), reflection (v1 and v1alpha, which lists them
//! beside the built-in services), the HTTP/JSON routes and OpenAPI document, and health. All of
//! it is built from a configuration first and put in force together, so that a schema file that
//! does not compile or map changes nothing.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::Context as _;
use arc_swap::ArcSwap;
use tonic::service::Routes;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::util::BoxCloneSyncService;

use crate::api::{SchemaRouter, SchemaServices, SharedSchemaServices, TenantSchema};
use crate::config::Config;
use crate::salesforce::SalesforceClient;
use crate::tenancy::SharedRegistry;

use super::tenants::Limiter;
use crate::http::{CallerCheck, HttpJson, SharedHttpJson};
use crate::tenant::TenantId;

/// The standard gRPC health service.
pub(super) const HEALTH_SERVICE: &str = "grpc.health.v1.Health";
/// The reflection services, as each version lists itself.
const REFLECTION_V1: &str = "grpc.reflection.v1.ServerReflection";
const REFLECTION_V1ALPHA: &str = "grpc.reflection.v1alpha.ServerReflection";

type GrpcService = BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    Infallible,
>;

/// Compiles and maps every schema file of `config`; a file unchanged since `in_force` was built
/// (same path, same text) is not compiled again.
pub(super) fn load(config: &Config, in_force: &SchemaServices) -> anyhow::Result<SchemaServices> {
    use crate::schema::compile;
    let mut schemas = Vec::with_capacity(config.schemas.len());
    for entry in &config.schemas {
        let schema_error = |error: compile::SchemaError| anyhow::anyhow!("[[schemas]] {error}");
        let source = compile::read(&entry.file).map_err(schema_error)?;
        let digest = compile::digest(&source);
        let kept = in_force
            .schemas()
            .iter()
            .find(|schema| schema.file.path == entry.file && schema.file.digest == digest)
            .map(|schema| Arc::clone(&schema.file));
        let file = match kept {
            Some(file) => file,
            None => Arc::new(compile::compile_source(&entry.file, &source).map_err(schema_error)?),
        };
        schemas.push(TenantSchema {
            file,
            tenants: entry
                .tenants
                .iter()
                .map(|name| TenantId::new(name))
                .collect(),
        });
    }
    SchemaServices::build(schemas).map_err(|error| anyhow::anyhow!("[[schemas]] {error}"))
}

/// What is built from the schema files before it is put in force.
pub(super) struct Prepared {
    services: SchemaServices,
    http: HttpJson,
    reflection_v1: GrpcService,
    reflection_v1alpha: GrpcService,
}

/// The parts of the server the schema files change, each replaced whole.
pub(super) struct SchemaFront {
    /// The schema services in force.
    pub(super) services: SharedSchemaServices,
    /// The tenants, whose orgs the schema files are checked against.
    registry: SharedRegistry<SalesforceClient, Limiter>,
    /// The HTTP/JSON front in force.
    pub(super) http: SharedHttpJson,
    reflection_v1: Arc<ArcSwap<GrpcService>>,
    reflection_v1alpha: Arc<ArcSwap<GrpcService>>,
    built_in: Vec<&'static str>,
    cors_allowed_origins: Vec<String>,
    refusal: CallerCheck,
    health: HealthReporter,
}

impl SchemaFront {
    /// The front of `services`, put in force in `shared` (which the connection service reads),
    /// beside the built-in services named `built_in`; the orgs of `registry`'s tenants are
    /// checked against the schema files after each change.
    pub(super) async fn new(
        shared: SharedSchemaServices,
        services: SchemaServices,
        registry: SharedRegistry<SalesforceClient, Limiter>,
        built_in: Vec<&'static str>,
        cors_allowed_origins: Vec<String>,
        refusal: CallerCheck,
        health: HealthReporter,
    ) -> anyhow::Result<Self> {
        let Prepared {
            services,
            http,
            reflection_v1,
            reflection_v1alpha,
        } = prepare(&built_in, &cors_allowed_origins, &refusal, services)?;
        let front = Self {
            services: shared,
            registry,
            http: Arc::new(ArcSwap::from_pointee(http)),
            reflection_v1: Arc::new(ArcSwap::from_pointee(reflection_v1)),
            reflection_v1alpha: Arc::new(ArcSwap::from_pointee(reflection_v1alpha)),
            built_in,
            cors_allowed_origins,
            refusal,
            health,
        };
        let before = front.set_services(services);
        front.report_health(&before).await;
        Ok(front)
    }

    /// Builds everything `services` needs, changing nothing yet.
    pub(super) fn prepare(&self, services: SchemaServices) -> anyhow::Result<Prepared> {
        prepare(
            &self.built_in,
            &self.cors_allowed_origins,
            &self.refusal,
            services,
        )
    }

    /// Puts what [`Self::prepare`] built in force: the services first (so that no route or
    /// health entry announces a method they do not answer yet), then reflection and HTTP/JSON,
    /// then health (SERVING for the new services, cleared for the ones gone).
    pub(super) async fn install(&self, prepared: Prepared) {
        let Prepared {
            services,
            http,
            reflection_v1,
            reflection_v1alpha,
        } = prepared;
        let before = self.set_services(services);
        self.reflection_v1.store(Arc::new(reflection_v1));
        self.reflection_v1alpha.store(Arc::new(reflection_v1alpha));
        self.http.store(Arc::new(http));
        self.report_health(&before).await;
    }

    /// Puts `services` in force, with the drift checks of the tenants whose schema files did not
    /// change, and checks the others' orgs in the background; the services it replaced.
    fn set_services(&self, services: SchemaServices) -> Arc<SchemaServices> {
        let methods: Vec<(String, String)> = services
            .service_descriptors()
            .iter()
            .flat_map(|service| {
                service
                    .methods()
                    .map(|method| (service.full_name().to_owned(), method.name().to_owned()))
                    .collect::<Vec<_>>()
            })
            .collect();
        crate::telemetry::rpc::register_schema_methods(
            methods
                .iter()
                .map(|(service, method)| (service.as_str(), method.as_str())),
        );
        let services = Arc::new(services);
        let before = self.services.load_full();
        services.adopt_drift(&before);
        self.services.store(Arc::clone(&services));
        self.check_drift(services);
        before
    }

    /// Health SERVING for the services in force, cleared for those of `before` that are gone.
    async fn report_health(&self, before: &SchemaServices) {
        let before = before.service_names();
        let after = self.services.load().service_names();
        let mut health = self.health.clone();
        for gone in before.iter().filter(|name| !after.contains(name)) {
            health.clear_service_status(gone).await;
        }
        for name in &after {
            health
                .set_service_status(name, ServingStatus::Serving)
                .await;
        }
    }

    /// Checks, in the background, every tenant's org against the schema files it uses.
    fn check_drift(&self, services: Arc<SchemaServices>) {
        let registry = self.registry.load_full();
        let tenants: Vec<(TenantId, SalesforceClient)> = services
            .schemas()
            .iter()
            .flat_map(|schema| &schema.tenants)
            .filter_map(|tenant| {
                registry
                    .get(tenant)
                    .map(|found| (tenant.clone(), found.org.clone()))
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        for (tenant, client) in tenants {
            if !seen.insert(tenant.clone()) {
                continue;
            }
            let services = Arc::clone(&services);
            tokio::spawn(async move {
                services.check_drift(&tenant, &client).await;
            });
        }
    }

    /// The services of the schema files in force, by name (for the drain).
    pub(super) fn service_names(&self) -> Vec<String> {
        self.services.load().service_names()
    }

    /// `routes` with reflection (as it stands after each reload) and, for every other path, the
    /// schema services.
    pub(super) fn routes<Limiter: Send + Sync + 'static>(
        &self,
        routes: Routes,
        schemas: SchemaRouter<Limiter>,
    ) -> Routes {
        let reflection = |name: &str, current: &Arc<ArcSwap<GrpcService>>| {
            (
                format!("/{name}/{{*rest}}"),
                Swapped {
                    current: Arc::clone(current),
                },
            )
        };
        let (v1_path, v1) = reflection(REFLECTION_V1, &self.reflection_v1);
        let (v1alpha_path, v1alpha) = reflection(REFLECTION_V1ALPHA, &self.reflection_v1alpha);
        let router = routes
            .into_axum_router()
            .route_service(&v1_path, v1.map_request_body())
            .route_service(&v1alpha_path, v1alpha.map_request_body())
            .fallback_service(tower::ServiceExt::map_request(
                schemas,
                |request: http::Request<axum::body::Body>| request.map(tonic::body::Body::new),
            ));
        Routes::from(router)
    }
}

fn prepare(
    built_in: &[&'static str],
    cors_allowed_origins: &[String],
    refusal: &CallerCheck,
    services: SchemaServices,
) -> anyhow::Result<Prepared> {
    let http = HttpJson::api(cors_allowed_origins.to_vec(), &services)
        .map_err(|error| anyhow::anyhow!("the HTTP/JSON routes: {error}"))?
        .refusing_before_the_body(Arc::clone(refusal));
    let schema_names = services.service_names();
    let schema_sets: Vec<&[u8]> = services
        .schemas()
        .iter()
        .map(|schema| schema.file.file_descriptor_set.as_slice())
        .collect();
    // The google.rpc error details are served too, so that grpcurl and other reflection clients
    // can decode the ErrorInfo, BadRequest and RetryInfo every error carries.
    let descriptor_sets = [
        crate::pb::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_types::pb::FILE_DESCRIPTOR_SET,
    ];
    // Reflection lists what is served: the built-in services, the schema files' services,
    // health, and the reflection service itself (each version its own name).
    let reflection = |itself: &'static str| {
        let builder = descriptor_sets
            .iter()
            .copied()
            .chain(schema_sets.iter().copied())
            .fold(
                tonic_reflection::server::Builder::configure(),
                |builder, set| builder.register_encoded_file_descriptor_set(set),
            );
        built_in
            .iter()
            .map(|name| (*name).to_owned())
            .chain(schema_names.iter().cloned())
            .chain([HEALTH_SERVICE.to_owned(), itself.to_owned()])
            .fold(builder, |builder, name| builder.with_service_name(name))
    };
    let reflection_v1 = reflection(REFLECTION_V1)
        .build_v1()
        .context("building reflection v1")?;
    let reflection_v1alpha = reflection(REFLECTION_V1ALPHA)
        .build_v1alpha()
        .context("building reflection v1alpha")?;
    Ok(Prepared {
        services,
        http,
        reflection_v1: BoxCloneSyncService::new(reflection_v1),
        reflection_v1alpha: BoxCloneSyncService::new(reflection_v1alpha),
    })
}

/// A gRPC service replaced whole on reload; each call goes to the one in force when it starts.
#[derive(Clone)]
struct Swapped {
    current: Arc<ArcSwap<GrpcService>>,
}

impl Swapped {
    /// As axum routes hand it requests.
    fn map_request_body(
        self,
    ) -> impl tower::Service<
        http::Request<axum::body::Body>,
        Response = http::Response<tonic::body::Body>,
        Error = Infallible,
        Future = impl Send,
    > + Clone
    + Send
    + Sync
    + 'static {
        tower::ServiceExt::map_request(self, |request: http::Request<axum::body::Body>| {
            request.map(tonic::body::Body::new)
        })
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for Swapped {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = tower::util::Oneshot<GrpcService, http::Request<tonic::body::Body>>;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let service: GrpcService = self.current.load().as_ref().clone();
        tower::ServiceExt::oneshot(service, request)
    }
}
