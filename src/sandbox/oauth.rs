//! OAuth 2.0: the token endpoint, sessions, and the identity endpoints.
//!
//! A request is parsed into a [`Grant`]; [`authenticate`] turns a grant into the
//! [`Principal`] it acts as; [`Sessions::issue`] mints the access token. New grant
//! types (JWT bearer, refresh token) are new [`Grant`] variants and match arms;
//! a session TTL is [`Sessions::ttl`].

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Duration, Utc};
use http::StatusCode;
use http::request::Parts;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::values::{self, Json};
use super::{Org, http_json};

/// How a session was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrantType {
    Password,
    ClientCredentials,
    /// SOAP `login()`.
    SoapLogin,
}

/// An issued access token's session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) user_id: String,
    pub(crate) issued_at: DateTime<Utc>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
    pub(crate) grant: GrantType,
}

/// Live sessions by access token.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_token: HashMap<String, Session>,
    /// Lifetime of new sessions; `None` lives until expired or revoked.
    pub(crate) ttl: Option<Duration>,
}

impl Sessions {
    /// Mints an access token (`<orgId15>!<random>`) for `user_id`.
    pub(crate) fn issue(
        &mut self,
        org_id: &str,
        user_id: &str,
        grant: GrantType,
    ) -> (String, Session) {
        let now = Utc::now();
        let token = format!("{}!{}", &org_id[..15.min(org_id.len())], random_token(96));
        let session = Session {
            user_id: user_id.to_string(),
            issued_at: now,
            expires_at: self.ttl.map(|ttl| now + ttl),
            grant,
        };
        tracing::debug!(user_id, grant = ?session.grant, "session issued");
        self.by_token.insert(token.clone(), session.clone());
        (token, session)
    }

    /// The live session of a token.
    pub(crate) fn validate(&self, token: &str) -> Option<&Session> {
        self.by_token
            .get(token)
            .filter(|s| s.expires_at.is_none_or(|at| at > Utc::now()))
    }

    /// Invalidates every issued token.
    pub(crate) fn expire_all(&mut self) {
        self.by_token.clear();
    }

    /// Invalidates one token; whether it existed.
    pub(crate) fn revoke(&mut self, token: &str) -> bool {
        self.by_token.remove(token).is_some()
    }
}

/// Random alphanumeric text.
pub(crate) fn random_token(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A parsed token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Grant {
    Password {
        client: ClientAuth,
        username: String,
        password: String,
    },
    ClientCredentials {
        client: ClientAuth,
    },
}

/// The connected app's credentials as presented.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ClientAuth {
    pub(crate) id: String,
    pub(crate) secret: String,
}

/// Who a grant authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principal {
    pub(crate) user_id: String,
    pub(crate) grant: GrantType,
}

/// An OAuth error response (`{"error":..,"error_description":..}`, HTTP 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OAuthError {
    pub(crate) error: &'static str,
    pub(crate) description: &'static str,
}

const UNSUPPORTED_GRANT: OAuthError = OAuthError {
    error: "unsupported_grant_type",
    description: "grant type not supported",
};
const INVALID_CLIENT_ID: OAuthError = OAuthError {
    error: "invalid_client_id",
    description: "client identifier invalid",
};
const INVALID_CLIENT: OAuthError = OAuthError {
    error: "invalid_client",
    description: "invalid client credentials",
};
const INVALID_GRANT: OAuthError = OAuthError {
    error: "invalid_grant",
    description: "authentication failure",
};

/// Parses form fields (body, then URL query) plus an optional Basic header.
pub(crate) fn parse_grant(
    params: &HashMap<String, String>,
    basic: Option<ClientAuth>,
) -> Result<Grant, OAuthError> {
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let client = match (params.get("client_id"), basic) {
        (Some(id), _) => ClientAuth {
            id: id.clone(),
            secret: get("client_secret"),
        },
        (None, Some(b)) => b,
        (None, None) => ClientAuth::default(),
    };
    match params.get("grant_type").map(String::as_str) {
        Some("password") => Ok(Grant::Password {
            client,
            username: get("username"),
            password: get("password"),
        }),
        Some("client_credentials") => Ok(Grant::ClientCredentials { client }),
        _ => Err(UNSUPPORTED_GRANT),
    }
}

/// Checks a grant against the org's connected app and users.
pub(crate) fn authenticate(org: &Org, grant: &Grant) -> Result<Principal, OAuthError> {
    let check_client = |c: &ClientAuth| {
        if c.id != org.credentials.client_id {
            return Err(INVALID_CLIENT_ID);
        }
        if !constant_time_eq(
            c.secret.as_bytes(),
            org.credentials.client_secret.as_bytes(),
        ) {
            return Err(INVALID_CLIENT);
        }
        Ok(())
    };
    match grant {
        Grant::Password {
            client,
            username,
            password,
        } => {
            check_client(client)?;
            let user_id = org.login(username, password).ok_or(INVALID_GRANT)?;
            Ok(Principal {
                user_id,
                grant: GrantType::Password,
            })
        }
        Grant::ClientCredentials { client } => {
            check_client(client)?;
            Ok(Principal {
                user_id: org.integration_user.clone(),
                grant: GrantType::ClientCredentials,
            })
        }
    }
}

/// Compares secrets without an early exit.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// HMAC-SHA256 (RFC 2104).
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Form fields of a request: URL query first, body fields override.
pub(crate) fn form_params(parts: &Parts, body: &str) -> HashMap<String, String> {
    let query = parts.uri.query().unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes())
        .chain(url::form_urlencoded::parse(body.as_bytes()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Client credentials from an `Authorization: Basic` header.
fn basic_auth(parts: &Parts) -> Option<ClientAuth> {
    let value = parts
        .headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = BASE64.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some(ClientAuth {
        id: id.to_string(),
        secret: secret.to_string(),
    })
}

/// `POST /services/oauth2/token`.
pub(crate) fn token(org: &Org, parts: &Parts, body: &str) -> axum::response::Response {
    if parts.method != http::Method::POST {
        return http_json(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"error": "invalid_request", "error_description": "must use HTTP POST"})
                .to_string(),
            &[],
        );
    }
    let params = form_params(parts, body);
    let principal = parse_grant(&params, basic_auth(parts)).and_then(|g| authenticate(org, &g));
    let principal = match principal {
        Ok(p) => p,
        Err(e) => {
            let body = json!({"error": e.error, "error_description": e.description});
            return http_json(StatusCode::BAD_REQUEST, &body.to_string(), &[]);
        }
    };
    let (access_token, session) =
        org.sessions
            .lock()
            .issue(&org.org_id, &principal.user_id, principal.grant);
    let id = format!("{}/id/{}/{}", org.base_url, org.org_id, session.user_id);
    let issued_at = values::epoch_millis(session.issued_at);
    let signature = BASE64.encode(hmac_sha256(
        org.credentials.client_secret.as_bytes(),
        format!("{id}{issued_at}").as_bytes(),
    ));
    let body = Json::object()
        .with("access_token", access_token)
        .with("instance_url", org.base_url.as_str())
        .with("id", id)
        .with("token_type", "Bearer")
        .with("issued_at", issued_at)
        .with("signature", signature)
        .with("scope", "api");
    http_json(StatusCode::OK, &body.to_text(), &[])
}

/// `POST /services/oauth2/revoke` (token in the form or query).
pub(crate) fn revoke(org: &Org, parts: &Parts, body: &str) -> axum::response::Response {
    let params = form_params(parts, body);
    let known = params
        .get("token")
        .is_some_and(|t| org.sessions.lock().revoke(t));
    if known {
        return http_json(StatusCode::OK, "", &[]);
    }
    let body = json!({"error": "unsupported_token_type", "error_description": "this token type is not supported"});
    http_json(StatusCode::BAD_REQUEST, &body.to_string(), &[])
}

/// `GET /id/{orgId}/{userId}` and `GET /services/oauth2/userinfo`.
pub(crate) fn identity(org: &Org, parts: &Parts, openid: bool) -> axum::response::Response {
    let Some(session) = org.session_of(&parts.headers) else {
        let body = if openid {
            json!({"error": "invalid_token", "error_description": "Bad_OAuth_Token"}).to_string()
        } else {
            "Bad_OAuth_Token".to_string()
        };
        return http_json(StatusCode::FORBIDDEN, &body, &[]);
    };
    let store = org.store.lock();
    let Some(user) = store.live_by_id(&session.user_id) else {
        return http_json(StatusCode::NOT_FOUND, "Bad_Id", &[]);
    };
    let text = |k: &str| user.text(k).unwrap_or_default().to_string();
    let id_url = format!("{}/id/{}/{}", org.base_url, org.org_id, user.id);
    let base = &org.base_url;
    let urls = json!({
        "enterprise": format!("{base}/services/Soap/c/{{version}}/{}", org.org_id),
        "partner": format!("{base}/services/Soap/u/{{version}}/{}", org.org_id),
        "rest": format!("{base}/services/data/v{{version}}/"),
        "sobjects": format!("{base}/services/data/v{{version}}/sobjects/"),
        "search": format!("{base}/services/data/v{{version}}/search/"),
        "query": format!("{base}/services/data/v{{version}}/query/"),
        "profile": format!("{base}/{}", user.id),
    });
    let body = if openid {
        json!({
            "sub": id_url, "user_id": user.id, "organization_id": org.org_id,
            "preferred_username": text("Username"), "name": text("Name"),
            "given_name": text("FirstName"), "family_name": text("LastName"),
            "email": text("Email"), "email_verified": true, "active": true,
            "user_type": "STANDARD", "language": "en_US", "locale": "en_US",
            "utcOffset": 0, "urls": urls,
        })
    } else {
        json!({
            "id": id_url, "asserted_user": true, "user_id": user.id,
            "organization_id": org.org_id, "username": text("Username"),
            "nick_name": text("FirstName"), "display_name": text("Name"),
            "email": text("Email"), "email_verified": true,
            "first_name": text("FirstName"), "last_name": text("LastName"),
            "active": true, "user_type": "STANDARD", "language": "en_US",
            "locale": "en_US", "utcOffset": 0,
            "last_modified_date": user.text("LastModifiedDate").unwrap_or_default(),
            "is_app_installed": true, "urls": urls,
        })
    };
    http_json(StatusCode::OK, &body.to_string(), &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231() {
        // RFC 4231 test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn grant_parsing() {
        let params = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let basic = ClientAuth {
            id: "id".into(),
            secret: "s".into(),
        };
        assert_eq!(
            parse_grant(
                &params(&[("grant_type", "client_credentials")]),
                Some(basic.clone())
            ),
            Ok(Grant::ClientCredentials { client: basic })
        );
        assert_eq!(
            parse_grant(&params(&[("grant_type", "magic")]), None),
            Err(UNSUPPORTED_GRANT)
        );
        assert_eq!(parse_grant(&params(&[]), None), Err(UNSUPPORTED_GRANT));
    }

    #[test]
    fn sessions_expire() {
        let mut s = Sessions::default();
        let (token, _) = s.issue("00D5g0000000001AAA", "005x", GrantType::Password);
        assert!(token.starts_with("00D5g0000000001!"));
        assert!(s.validate(&token).is_some());
        s.expire_all();
        assert!(s.validate(&token).is_none());
        s.ttl = Some(Duration::seconds(-1));
        let (token, _) = s.issue("00D5g0000000001AAA", "005x", GrantType::Password);
        assert!(s.validate(&token).is_none());
    }
}
