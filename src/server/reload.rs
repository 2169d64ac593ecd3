//! Configuration reload: on SIGHUP, and when the modification time of the file or of a schema file
//! it names changes (polled). The
//! new configuration is built into snapshots first; if it does not load or build, it is refused
//! with a log line and the running one stays. Settings a reload cannot change are named.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::schemas::{self, SchemaFront};
use super::tenants::Tenants;
use crate::config::{
    AdminSettings, Config, FrontDoorSettings, HttpSettings, SharedLimitsSettings,
    TelemetrySettings, TlsSettings,
};

/// The settings a reload cannot change: a new value needs a restart.
#[derive(Debug, PartialEq)]
pub(super) struct RestartOnly {
    listen: SocketAddr,
    tls: Option<TlsSettings>,
    shared_limits: Option<SharedLimitsSettings>,
    admin: Option<AdminSettings>,
    telemetry: TelemetrySettings,
    front_door: FrontDoorSettings,
    http: HttpSettings,
}

impl RestartOnly {
    pub(super) fn of(config: &Config) -> Self {
        Self {
            listen: config.listen,
            tls: config.tls.clone(),
            shared_limits: config.shared_limits.clone(),
            admin: config.admin.clone(),
            telemetry: config.telemetry.clone(),
            front_door: config.front_door.clone(),
            http: config.http.clone(),
        }
    }
}

/// Reloads the configuration on SIGHUP and, with `poll`, when the modification time of the file
/// or of one of its schema files changes; a configuration that does not load or build changes
/// nothing.
pub(super) async fn watch_config(
    path: PathBuf,
    poll: Option<Duration>,
    tenants: Arc<Tenants>,
    front: Arc<SchemaFront>,
    running: RestartOnly,
    // The schema files of the configuration in force, watched with it.
    mut schema_files: Vec<PathBuf>,
) {
    #[cfg(unix)]
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP; reloading on file changes only");
            None
        }
    };
    let mut last_modified = modified_all(modified(&path), &schema_files);
    loop {
        let hangup_received = async {
            #[cfg(unix)]
            if let Some(hangup) = hangup.as_mut() {
                hangup.recv().await;
                return;
            }
            std::future::pending::<()>().await
        };
        let trigger = tokio::select! {
            () = hangup_received => "SIGHUP",
            () = sleep_or_forever(poll) => {
                let now_modified = modified_all(modified(&path), &schema_files);
                if now_modified == last_modified {
                    continue;
                }
                "file change"
            }
        };
        // The file's time is taken before it is read, so that an edit landing during the reload
        // is seen by the next poll.
        let config_modified = modified(&path);
        match Config::load(&path) {
            Ok(config) => {
                schema_files = config.schema_files();
                last_modified = modified_all(config_modified, &schema_files);
                if RestartOnly::of(&config) != running {
                    tracing::warn!(
                        "changes to listen, [tls], [front_door], [http], [shared_limits], [admin] or [telemetry] take effect only after a restart"
                    );
                }
                match reload(&tenants, &front, &config).await {
                    Ok(()) => tracing::info!(
                        trigger,
                        tenants = config.tenants.len(),
                        schemas = config.schemas.len(),
                        "configuration reloaded"
                    ),
                    Err(error) => tracing::error!(
                        trigger,
                        "configuration reload rejected: {error:#}; still serving the previous configuration"
                    ),
                }
            }
            Err(error) => {
                last_modified = modified_all(config_modified, &schema_files);
                tracing::error!(
                    trigger,
                    "configuration reload rejected: {error:#}; still serving the previous configuration"
                )
            }
        }
    }
}

/// The modification times of the configuration file and the schema files it names.
fn modified_all(config: Option<SystemTime>, schema_files: &[PathBuf]) -> Vec<Option<SystemTime>> {
    std::iter::once(config)
        .chain(schema_files.iter().map(|file| modified(file)))
        .collect()
}

/// Builds the schema files and the tenants of `config`, then puts both in force; if either
/// fails, neither changes.
async fn reload(tenants: &Tenants, front: &SchemaFront, config: &Config) -> anyhow::Result<()> {
    let prepared = front.prepare(schemas::load(config, &front.services.load())?)?;
    tenants.reload(config)?;
    front.install(prepared).await;
    Ok(())
}

async fn sleep_or_forever(period: Option<Duration>) {
    match period {
        Some(period) => tokio::time::sleep(period).await,
        None => std::future::pending().await,
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path)
        .and_then(|metadata| metadata.modified())
        .ok()
}
