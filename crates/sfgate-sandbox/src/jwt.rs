//! JWT bearer assertions (RFC 7523) as Salesforce's OAuth 2.0 JWT bearer flow
//! checks them: an RS256-signed JWT whose signature verifies against the RSA
//! public key of the certificate registered with the connected app.

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use serde_json::Value;
use sha2::{Digest, Sha256};
use x509_parser::pem::parse_x509_pem;
use x509_parser::public_key::PublicKey;

/// base64url, padding optional when decoding (JWTs carry none).
pub(crate) const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Smallest and largest RSA modulus, in bits, that RS256 verification accepts.
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// The connected app's certificate, whose RSA key verifies JWT bearer assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Certificate {
    /// The RSA public key (PKCS#1 `RSAPublicKey`, DER).
    pub(crate) key: Vec<u8>,
    /// The subject, e.g. `CN=sfgate-jwt`.
    pub(crate) subject: String,
    /// The SHA-256 of the certificate's DER, as `openssl x509 -fingerprint -sha256` prints it.
    pub(crate) sha256: String,
}

impl Certificate {
    /// Reads a PEM X.509 certificate with an RSA key of 2048 to 8192 bits.
    pub(crate) fn from_pem(pem: &str) -> Result<Self, String> {
        let (_, pem) = parse_x509_pem(pem.as_bytes())
            .map_err(|e| format!("not a PEM-encoded certificate: {e}"))?;
        if pem.label != "CERTIFICATE" {
            return Err(format!(
                "expected a PEM CERTIFICATE block, found {}",
                pem.label
            ));
        }
        let cert = pem
            .parse_x509()
            .map_err(|e| format!("not a valid X.509 certificate: {e}"))?;
        let spki = cert.public_key();
        let key = match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => {
                let modulus = rsa.modulus;
                let significant = modulus
                    .iter()
                    .position(|b| *b != 0)
                    .map_or(&[][..], |i| &modulus[i..]);
                let bits = significant.first().map_or(0, |first| {
                    (significant.len() - 1) * 8 + (8 - first.leading_zeros() as usize)
                });
                if !RSA_BITS.contains(&bits) {
                    return Err(format!(
                        "the certificate's RSA key has {bits} bits; 2048 to 8192 are supported"
                    ));
                }
                spki.subject_public_key.data.to_vec()
            }
            Ok(_) => return Err("the certificate's public key is not an RSA key".into()),
            Err(e) => return Err(format!("unreadable public key in the certificate: {e}")),
        };
        let sha256 = Sha256::digest(&pem.contents)
            .iter()
            .map(|byte| format!("{byte:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        Ok(Self {
            key,
            subject: cert.subject().to_string(),
            sha256,
        })
    }
}

/// A structurally valid RS256 JWT, signature not yet checked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Assertion {
    /// `base64url(header).base64url(claims)`, exactly as received.
    signing_input: String,
    signature: Vec<u8>,
    /// The claims object.
    pub(crate) claims: serde_json::Map<String, Value>,
}

impl Assertion {
    /// Parses `header.claims.signature`; `None` unless it is three base64url
    /// parts, the header is a JSON object with `"alg": "RS256"`, and the claims
    /// are a JSON object.
    pub(crate) fn parse(jwt: &str) -> Option<Self> {
        let (signing_input, signature) = jwt.trim().rsplit_once('.')?;
        let (header, claims) = signing_input.split_once('.')?;
        if claims.contains('.') {
            return None;
        }
        let header: Value = serde_json::from_slice(&BASE64URL.decode(header).ok()?).ok()?;
        if header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return None;
        }
        let Value::Object(claims) = serde_json::from_slice(&BASE64URL.decode(claims).ok()?).ok()?
        else {
            return None;
        };
        let signature = BASE64URL.decode(signature).ok()?;
        if signature.is_empty() {
            return None;
        }
        Some(Self {
            signing_input: signing_input.to_string(),
            signature,
            claims,
        })
    }

    /// Whether the RSASSA-PKCS1-v1_5 SHA-256 signature verifies against an RSA
    /// public key (PKCS#1 DER).
    pub(crate) fn verify(&self, rsa_public_key: &[u8]) -> bool {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, rsa_public_key)
            .verify(self.signing_input.as_bytes(), &self.signature)
            .is_ok()
    }

    /// A string claim.
    pub(crate) fn text(&self, claim: &str) -> Option<&str> {
        self.claims.get(claim).and_then(Value::as_str)
    }

    /// The `aud` claim: one string or an array of strings.
    pub(crate) fn audiences(&self) -> Vec<&str> {
        match self.claims.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// The `exp` claim in seconds since the epoch.
    pub(crate) fn expires(&self) -> Option<f64> {
        self.claims.get("exp").and_then(Value::as_f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = include_str!("../tests/fixtures/jwt/certificate.pem");
    /// As `openssl x509 -noout -subject -fingerprint -sha256` prints them for `CERT`.
    const SUBJECT: &str = "CN=sfgate-test";
    const SHA256: &str = "80:CB:36:E5:04:50:42:CB:4A:2E:81:30:46:9E:6A:63:61:7C:81:E9:13:F2:B0:D0:23:2B:46:E2:9F:E5:64:F8";
    const EC_CERT: &str = include_str!("../tests/fixtures/jwt/ec_certificate.pem");

    fn jwt(header: &str, claims: &str, signature: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            BASE64URL.encode(header),
            BASE64URL.encode(claims),
            BASE64URL.encode(signature)
        )
    }

    #[test]
    fn certificates() {
        let certificate = Certificate::from_pem(CERT).expect("rsa cert");
        // PKCS#1 RSAPublicKey: a DER SEQUENCE.
        assert_eq!(certificate.key.first(), Some(&0x30));
        assert!(certificate.key.len() > 256);
        assert_eq!(certificate.subject, SUBJECT);
        assert_eq!(certificate.sha256, SHA256);
        assert!(
            Certificate::from_pem(EC_CERT)
                .expect_err("ec")
                .contains("not an RSA key")
        );
        assert!(Certificate::from_pem("hello").is_err());
        assert!(Certificate::from_pem("").is_err());
        let truncated = CERT.replace("-----END CERTIFICATE-----", "");
        assert!(Certificate::from_pem(&truncated).is_err());
        let garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(Certificate::from_pem(garbage).is_err());
        let key_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(
            Certificate::from_pem(key_pem)
                .expect_err("label")
                .contains("PRIVATE KEY")
        );
    }

    #[test]
    fn parsing() {
        let ok = jwt(
            r#"{"alg":"RS256"}"#,
            r#"{"iss":"a","aud":["x",1,"y"],"exp":5}"#,
            b"sig",
        );
        let a = Assertion::parse(&ok).expect("parse");
        assert_eq!(a.text("iss"), Some("a"));
        assert_eq!(a.text("sub"), None);
        assert_eq!(a.audiences(), vec!["x", "y"]);
        assert_eq!(a.expires(), Some(5.0));
        assert_eq!(a.signature, b"sig");
        assert_eq!(
            Some(a.signing_input.as_str()),
            ok.rsplit_once('.').map(|p| p.0)
        );
        assert!(!a.verify(&Certificate::from_pem(CERT).expect("key").key));
        assert!(!a.verify(b"not a key"));

        for bad in [
            String::new(),
            "a.b".into(),
            "a.b.c.d".into(),
            "...".into(),
            "é.é.é".into(),
            jwt(r#"{"alg":"HS256"}"#, "{}", b"s"),
            jwt(r#"{"alg":"none"}"#, "{}", b"s"),
            jwt(r#"{}"#, "{}", b"s"),
            jwt(r#"{"alg":"RS256"}"#, "[]", b"s"),
            jwt(r#"{"alg":"RS256"}"#, "not json", b"s"),
            jwt(r#"{"alg":"RS256"}"#, "{}", b""),
            format!("{}.e30.!!", BASE64URL.encode(r#"{"alg":"RS256"}"#)),
        ] {
            assert!(Assertion::parse(&bad).is_none(), "{bad}");
        }
    }
}
