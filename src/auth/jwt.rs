//! The JWT bearer assertion: `{"alg":"RS256"}` header, `iss`/`sub`/`aud`/`exp` claims, signed with
//! the private key whose certificate the connected app holds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use secrecy::{ExposeSecret, SecretString};

/// How long an assertion is valid: Salesforce accepts at most three minutes, and a clock running a
/// little fast must not push it past that.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(150);

/// Why no assertion could be signed.
#[derive(Debug, thiserror::Error)]
pub enum AssertionError {
    /// The key is not a PEM RSA private key (PKCS#8 or PKCS#1).
    #[error("private_key is not a PEM RSA private key (PKCS#8 or PKCS#1)")]
    UnusableKey,
    /// Signing failed.
    #[error("signing the JWT assertion failed")]
    Signing,
}

/// Signs an assertion for `username` at the connected app `client_id`, for `audience`.
pub fn bearer_assertion(
    private_key_pem: &SecretString,
    client_id: &str,
    username: &str,
    audience: &str,
    now: SystemTime,
) -> Result<SecretString, AssertionError> {
    let key_pair =
        match PrivateKeyDer::from_pem_slice(private_key_pem.expose_secret().as_bytes()) {
            Ok(PrivateKeyDer::Pkcs8(der)) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
            Ok(PrivateKeyDer::Pkcs1(der)) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
            _ => return Err(AssertionError::UnusableKey),
        }
        .map_err(|_| AssertionError::UnusableKey)?;
    let expires = now
        .checked_add(ASSERTION_LIFETIME)
        .unwrap_or(now)
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#);
    let claims = serde_json::json!({ "iss": client_id, "sub": username, "aud": audience, "exp": expires.as_secs() });
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{claims}");
    let mut signature = vec![0; key_pair.public().modulus_len()];
    key_pair
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            signing_input.as_bytes(),
            &mut signature,
        )
        .map_err(|_| AssertionError::Signing)?;
    Ok(SecretString::from(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{KeyPair, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

    const KEY: &str = include_str!("../../tests/fixtures/jwt/private_key.pem");

    #[test]
    fn signs_a_verifiable_assertion_with_the_claims_salesforce_reads() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let assertion = bearer_assertion(
            &SecretString::from(KEY),
            "3MVGclient",
            "integration@example.com",
            "https://login.salesforce.com",
            now,
        )
        .unwrap();
        let parts: Vec<&str> = assertion.expose_secret().split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(
            claims,
            serde_json::json!({"iss": "3MVGclient", "sub": "integration@example.com", "aud": "https://login.salesforce.com", "exp": 1_800_000_150u64})
        );
        let der = PrivateKeyDer::from_pem_slice(KEY.as_bytes()).unwrap();
        let PrivateKeyDer::Pkcs8(pkcs8) = der else {
            panic!("fixture is PKCS#8")
        };
        let public = RsaKeyPair::from_pkcs8(pkcs8.secret_pkcs8_der())
            .unwrap()
            .public_key()
            .as_ref()
            .to_vec();
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public)
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .expect("the signature verifies with the public key");
    }

    #[test]
    fn refuses_a_key_that_is_not_rsa_pem() {
        let error = bearer_assertion(
            &SecretString::from("not a key"),
            "c",
            "u",
            "a",
            SystemTime::now(),
        )
        .unwrap_err();
        assert!(matches!(error, AssertionError::UnusableKey));
    }
}
