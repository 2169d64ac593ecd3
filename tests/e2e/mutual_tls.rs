//! Mutual TLS: a client certificate granted a tenant authenticates its caller without an API
//! key; an ungranted one does not; API keys keep working unless certificates are required.

use std::path::PathBuf;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sfgate::config::{ClientCertificateConfig, TlsSettings};
use sfgate::pb::GetLeadRequest;
use sfgate::pb::lead_service_client::LeadServiceClient;
use sfgate::tenant::ApiKeyHash;
use sfgate_testkit::{API_KEY, reason, spawn_app_with};
use tonic::Code;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

fn fingerprint(name: &str) -> ApiKeyHash {
    let certificate = CertificateDer::from_pem_slice(&read(name)).unwrap();
    ApiKeyHash::of_bytes(certificate.as_ref())
}

async fn connect(
    address: std::net::SocketAddr,
    client: Option<&str>,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read("ca.pem")))
        .domain_name("localhost");
    if let Some(name) = client {
        tls = tls.identity(Identity::from_pem(
            read(&format!("{name}.pem")),
            read(&format!("{name}.key")),
        ));
    }
    Endpoint::from_shared(format!("https://{address}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
}

fn get_lead(id: &str, key: Option<&str>) -> tonic::Request<GetLeadRequest> {
    let mut request = tonic::Request::new(GetLeadRequest {
        id: id.into(),
        fields: None,
    });
    request
        .metadata_mut()
        .insert("x-tenant-id", "sandbox".parse().unwrap());
    if let Some(key) = key {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {key}").parse().unwrap());
    }
    request
}

fn tls(require_client_certificate: bool) -> TlsSettings {
    TlsSettings {
        cert_file: fixture("server.pem"),
        key_file: fixture("server.key"),
        client_ca_file: Some(fixture("ca.pem")),
        require_client_certificate,
    }
}

#[tokio::test]
async fn a_granted_client_certificate_authenticates_its_caller() {
    let app = spawn_app_with(|config| {
        config.tls = Some(tls(false));
        let mut other = config.tenants["sandbox"].clone();
        other.client_certificates.clear();
        config.tenants.insert("other".into(), other);
        config
            .tenants
            .get_mut("sandbox")
            .unwrap()
            .client_certificates = vec![ClientCertificateConfig {
            caller: "ivr".into(),
            sha256: fingerprint("ivr.pem"),
        }];
    })
    .await;
    let id = app.sandbox.find_records("Lead", "LastName", "Reed")[0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();

    let ivr = connect(app.address, Some("ivr")).await.unwrap();
    LeadServiceClient::new(ivr)
        .get_lead(get_lead(&id, None))
        .await
        .expect("the certificate is the credential");
    let mut elsewhere = get_lead(&id, None);
    elsewhere
        .metadata_mut()
        .insert("x-tenant-id", "other".parse().unwrap());
    let ivr = connect(app.address, Some("ivr")).await.unwrap();
    let status = LeadServiceClient::new(ivr)
        .get_lead(elsewhere)
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::PermissionDenied, "TENANT_NOT_GRANTED")
    );

    let rogue = connect(app.address, Some("rogue")).await.unwrap();
    let status = LeadServiceClient::new(rogue.clone())
        .get_lead(get_lead(&id, None))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::Unauthenticated, "CLIENT_CERTIFICATE_NOT_GRANTED")
    );
    LeadServiceClient::new(rogue)
        .get_lead(get_lead(&id, Some(API_KEY)))
        .await
        .expect("an API key still works");

    let anonymous = connect(app.address, None).await.unwrap();
    LeadServiceClient::new(anonymous)
        .get_lead(get_lead(&id, Some(API_KEY)))
        .await
        .expect("certificates are optional");
    assert!(
        app.leads()
            .get_lead(get_lead(&id, Some(API_KEY)))
            .await
            .is_err(),
        "plaintext is refused on a TLS port"
    );
}

#[tokio::test]
async fn required_client_certificates_refuse_connections_without_one() {
    let app = spawn_app_with(|config| {
        config.tls = Some(tls(true));
        config
            .tenants
            .get_mut("sandbox")
            .unwrap()
            .client_certificates = vec![ClientCertificateConfig {
            caller: "ivr".into(),
            sha256: fingerprint("ivr.pem"),
        }];
    })
    .await;
    let id = app.sandbox.find_records("Lead", "LastName", "Reed")[0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = match connect(app.address, None).await {
        Err(_) => true,
        Ok(channel) => LeadServiceClient::new(channel)
            .get_lead(get_lead(&id, Some(API_KEY)))
            .await
            .is_err(),
    };
    assert!(refused, "a client without a certificate is refused");
    let ivr = connect(app.address, Some("ivr")).await.unwrap();
    LeadServiceClient::new(ivr)
        .get_lead(get_lead(&id, None))
        .await
        .unwrap();
}
