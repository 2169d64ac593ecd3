//! Where `sfgate schema` reads an org's schema: the describes of a tenant's objects, through the
//! tenant's own connection (its credentials provider, grant and limits of API use).

use anyhow::Context as _;

use crate::config::Config;
use crate::salesforce::http_client;
use crate::schema::describe::{ObjectDescribe, custom_object_names};
use crate::tenant::TenantId;

use super::tenants::Tenants;

/// The describes of `objects` in `tenant`'s org, then (with `custom`) of every custom object
/// not already named, in that order.
pub async fn describe_objects(
    config: &Config,
    tenant: &str,
    objects: &[String],
    custom: bool,
) -> anyhow::Result<Vec<ObjectDescribe>> {
    let tenants = Tenants::build(config, http_client())?;
    let registry = tenants.registry.load_full();
    let Some(found) = registry.get(&TenantId::new(tenant)) else {
        let mut known: Vec<&str> = config.tenants.keys().map(String::as_str).collect();
        known.sort_unstable();
        anyhow::bail!(
            "no tenant {tenant:?} in the configuration (tenants: {})",
            known.join(", ")
        );
    };
    let client = &found.org;
    let mut names: Vec<String> = objects.to_vec();
    if custom {
        let global = client
            .describe_global()
            .await
            .with_context(|| format!("listing the objects of tenant {tenant}'s org"))?;
        for name in custom_object_names(&global) {
            if !names.iter().any(|named| named.eq_ignore_ascii_case(&name)) {
                names.push(name);
            }
        }
    }
    let mut describes = Vec::with_capacity(names.len());
    for name in &names {
        let json = client
            .describe(name)
            .await
            .with_context(|| format!("describing {name} in tenant {tenant}'s org"))?;
        let describe: ObjectDescribe = serde_json::from_value(json)
            .with_context(|| format!("reading the describe of {name}"))?;
        describes.push(describe);
    }
    Ok(describes)
}
