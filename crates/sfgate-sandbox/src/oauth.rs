//! OAuth 2.0: the token endpoint, sessions, and the identity endpoints.
//!
//! A request is parsed into a [`Grant`]; [`authenticate`] turns a grant into the
//! [`Principal`] it acts as; [`Sessions::issue_for`] mints the access token.
//! Grants: password, client credentials, JWT bearer (see [`super::jwt`]) and
//! refresh token. [`Sessions`] also holds the refresh tokens and the session
//! TTL ([`Sessions::ttl`]).

use std::collections::HashMap;
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use http::StatusCode;
use http::request::Parts;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::jwt::Assertion;
use super::values::{self, Json};
use super::{Org, http_json, schema};

/// The `grant_type` of the JWT bearer flow.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The `aud` values Salesforce accepts besides the org's own URL.
const LOGIN_AUDIENCES: [&str; 2] = [
    "https://login.salesforce.com",
    "https://test.salesforce.com",
];
/// Clock skew tolerated on a JWT's `exp`, in seconds.
const JWT_SKEW_SECS: f64 = 5.0;
/// How far ahead a JWT's `exp` may be, in seconds.
const JWT_MAX_LIFETIME_SECS: f64 = 300.0;

/// How a session was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrantType {
    Password,
    ClientCredentials,
    JwtBearer,
    RefreshToken,
    /// SOAP `login()`.
    SoapLogin,
}

/// An issued access token's session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) user_id: String,
    /// Wall-clock issue time (the token response's `issued_at`).
    pub(crate) issued_at: DateTime<Utc>,
    /// Monotonic issue time, which the TTL is measured from.
    pub(crate) issued: Instant,
    pub(crate) grant: GrantType,
    /// The refresh token the session was obtained with; revoking that refresh
    /// token revokes the session too, as in Salesforce.
    pub(crate) refresh_token: Option<String>,
}

/// Live sessions by access token, and live refresh tokens.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_token: HashMap<String, Session>,
    /// Refresh token -> the user it acts as.
    refresh_tokens: HashMap<String, String>,
    /// Maximum age of a session; `None` lives until expired or revoked. Applies
    /// to sessions issued before it was set as well.
    pub(crate) ttl: Option<std::time::Duration>,
}

impl Sessions {
    /// Mints an access token (`<orgId15>!<random>`) for `user_id`.
    pub(crate) fn issue(
        &mut self,
        org_id: &str,
        user_id: &str,
        grant: GrantType,
    ) -> (String, Session) {
        self.issue_for(
            org_id,
            &Principal {
                user_id: user_id.to_string(),
                grant,
                refresh_token: None,
            },
        )
    }

    /// Mints an access token (`<orgId15>!<random>`) for an authenticated principal.
    pub(crate) fn issue_for(&mut self, org_id: &str, principal: &Principal) -> (String, Session) {
        let prefix = org_id.get(..15).unwrap_or(org_id);
        let token = format!("{prefix}!{}", random_token(96));
        let session = Session {
            user_id: principal.user_id.clone(),
            issued_at: Utc::now(),
            issued: Instant::now(),
            grant: principal.grant,
            refresh_token: principal.refresh_token.clone(),
        };
        tracing::debug!(user_id = %session.user_id, grant = ?session.grant, "session issued");
        self.by_token.insert(token.clone(), session.clone());
        (token, session)
    }

    /// The live session of a token: known, not revoked, younger than the TTL.
    pub(crate) fn validate(&self, token: &str) -> Option<&Session> {
        self.by_token
            .get(token)
            .filter(|s| self.ttl.is_none_or(|ttl| s.issued.elapsed() < ttl))
    }

    /// Invalidates every issued access token (refresh tokens stay valid).
    pub(crate) fn expire_all(&mut self) {
        self.by_token.clear();
    }

    /// Revokes an access token, or a refresh token together with the access
    /// tokens obtained with it; whether the token existed.
    pub(crate) fn revoke(&mut self, token: &str) -> bool {
        if self.by_token.remove(token).is_some() {
            return true;
        }
        if self.refresh_tokens.remove(token).is_none() {
            return false;
        }
        self.by_token
            .retain(|_, s| s.refresh_token.as_deref() != Some(token));
        true
    }

    /// Mints a refresh token (`5Aep861<random>`) for `user_id`.
    pub(crate) fn issue_refresh_token(&mut self, user_id: &str) -> String {
        let token = format!("5Aep861{}", random_token(80));
        self.refresh_tokens
            .insert(token.clone(), user_id.to_string());
        token
    }

    /// The user a live refresh token acts as.
    pub(crate) fn refresh_token_user(&self, token: &str) -> Option<&str> {
        self.refresh_tokens.get(token).map(String::as_str)
    }

    /// Revokes every refresh token and the access tokens obtained with them.
    pub(crate) fn revoke_refresh_tokens(&mut self) {
        self.refresh_tokens.clear();
        self.by_token.retain(|_, s| s.refresh_token.is_none());
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
    JwtBearer {
        assertion: String,
    },
    RefreshToken {
        client: ClientAuth,
        refresh_token: String,
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
    /// The refresh token presented, for the refresh-token grant.
    pub(crate) refresh_token: Option<String>,
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
const INVALID_ASSERTION: OAuthError = OAuthError {
    error: "invalid_grant",
    description: "invalid assertion",
};
const INVALID_AUDIENCE: OAuthError = OAuthError {
    error: "invalid_grant",
    description: "audience is invalid",
};
const EXPIRED_ASSERTION: OAuthError = OAuthError {
    error: "invalid_grant",
    description: "expired authorization code",
};
const USER_NOT_APPROVED: OAuthError = OAuthError {
    error: "invalid_grant",
    description: "user hasn't approved this consumer",
};
const EXPIRED_REFRESH_TOKEN: OAuthError = OAuthError {
    error: "invalid_grant",
    description: "expired access/refresh token",
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
        Some(JWT_BEARER) => Ok(Grant::JwtBearer {
            assertion: get("assertion"),
        }),
        Some("refresh_token") => Ok(Grant::RefreshToken {
            client,
            refresh_token: get("refresh_token"),
        }),
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
                refresh_token: None,
            })
        }
        Grant::ClientCredentials { client } => {
            check_client(client)?;
            Ok(Principal {
                user_id: org.integration_user.clone(),
                grant: GrantType::ClientCredentials,
                refresh_token: None,
            })
        }
        Grant::JwtBearer { assertion } => {
            let user_id = check_assertion(org, assertion, Utc::now())?;
            Ok(Principal {
                user_id,
                grant: GrantType::JwtBearer,
                refresh_token: None,
            })
        }
        Grant::RefreshToken {
            client,
            refresh_token,
        } => {
            check_client(client)?;
            let user_id = org
                .sessions
                .lock()
                .refresh_token_user(refresh_token)
                .map(str::to_string)
                .ok_or(EXPIRED_REFRESH_TOKEN)?;
            Ok(Principal {
                user_id,
                grant: GrantType::RefreshToken,
                refresh_token: Some(refresh_token.clone()),
            })
        }
    }
}

/// Checks a JWT bearer assertion as Salesforce does, in order: well-formed
/// RS256 JWT, `iss` is the connected app, a certificate is registered, the
/// signature verifies, `aud`, `exp`, and `sub` names an active user. Returns
/// that user's id. A refusal answers Salesforce's `error_description`, and the
/// sandbox logs the exact cause, which Salesforce keeps to itself.
pub(crate) fn check_assertion(
    org: &Org,
    assertion: &str,
    now: DateTime<Utc>,
) -> Result<String, OAuthError> {
    let refuse = |error: OAuthError, why: String| {
        tracing::warn!(
            error = error.error,
            error_description = error.description,
            %why,
            "refused a JWT bearer assertion"
        );
        error
    };
    let jwt = Assertion::parse(assertion).ok_or_else(|| {
        refuse(
            INVALID_ASSERTION,
            "not a JWT: three base64url parts with an RS256 header and a claims object".into(),
        )
    })?;
    if jwt.text("iss") != Some(org.credentials.client_id.as_str()) {
        // Neither consumer key is logged: callers may treat theirs as a secret.
        return Err(refuse(
            INVALID_CLIENT_ID,
            "iss is not the connected app's consumer key (client_id)".into(),
        ));
    }
    let Some(certificate) = org.jwt_certificate.lock().clone() else {
        return Err(refuse(
            INVALID_ASSERTION,
            "no certificate is registered with the connected app: start the sandbox with --jwt-certificate (SFGATE_SANDBOX_JWT_CERTIFICATE)".into(),
        ));
    };
    if !jwt.verify(&certificate.key) {
        return Err(refuse(
            INVALID_ASSERTION,
            format!(
                "bad signature: not signed with the key of the registered certificate {} (SHA-256 {})",
                certificate.subject, certificate.sha256
            ),
        ));
    }
    let own = org.base_url.trim_end_matches('/');
    let audiences = jwt.audiences();
    let audience_ok = audiences.iter().any(|aud| {
        let aud = aud.trim_end_matches('/');
        aud == own || LOGIN_AUDIENCES.contains(&aud)
    });
    if !audience_ok {
        return Err(refuse(
            INVALID_AUDIENCE,
            format!("aud is {audiences:?}; this org accepts {own:?} or {LOGIN_AUDIENCES:?}"),
        ));
    }
    let exp = jwt
        .expires()
        .ok_or_else(|| refuse(INVALID_ASSERTION, "no numeric exp claim".into()))?;
    #[allow(clippy::cast_precision_loss)] // millis since the epoch fit an f64 exactly
    let now = now.timestamp_millis() as f64 / 1000.0;
    if exp + JWT_SKEW_SECS < now {
        return Err(refuse(
            EXPIRED_ASSERTION,
            format!("expired: exp is {:.0} s in the past", now - exp),
        ));
    }
    if exp > now + JWT_MAX_LIFETIME_SECS + JWT_SKEW_SECS {
        return Err(refuse(
            EXPIRED_ASSERTION,
            format!(
                "exp is {:.0} s ahead; at most {JWT_MAX_LIFETIME_SECS:.0} s are accepted",
                exp - now
            ),
        ));
    }
    let username = jwt
        .text("sub")
        .ok_or_else(|| refuse(INVALID_ASSERTION, "no sub claim (the username)".into()))?;
    active_user(org, username).ok_or_else(|| {
        refuse(
            USER_NOT_APPROVED,
            format!("sub {username:?} is not an active user of this org"),
        )
    })
}

/// The id of the active user with this username (case-insensitive).
fn active_user(org: &Org, username: &str) -> Option<String> {
    let users = schema::object("User")?;
    let store = org.store.lock();
    store
        .live(users)
        .find(|u| {
            u.text("Username")
                .is_some_and(|name| name.eq_ignore_ascii_case(username))
                && u.get("IsActive").as_bool() == Some(true)
        })
        .map(|u| u.id.clone())
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

/// Form fields whose values [`redact_form`] hides.
const SECRET_FIELDS: [&str; 5] = [
    "client_secret",
    "password",
    "assertion",
    "refresh_token",
    "token",
];

/// A form-encoded text with the values of secret fields (`client_secret`,
/// `password`, `assertion`, `refresh_token`, `token`) replaced by `<redacted>`;
/// every other byte is kept as sent.
pub(crate) fn redact_form(form: &str) -> String {
    form.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((raw_key, value)) if !value.is_empty() => {
                let key = url::form_urlencoded::parse(raw_key.as_bytes())
                    .next()
                    .map(|(k, _)| k.into_owned())
                    .unwrap_or_default();
                if SECRET_FIELDS.contains(&key.as_str()) {
                    format!("{raw_key}=<redacted>")
                } else {
                    pair.to_string()
                }
            }
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
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
    let (access_token, session) = org.sessions.lock().issue_for(&org.org_id, &principal);
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

/// `POST /services/oauth2/revoke` (token in the form or query): an access
/// token, or a refresh token together with the access tokens obtained with it.
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
        let (token, _) = s.issue("00D5g0000000001AAA", "005x", GrantType::Password);
        s.ttl = Some(std::time::Duration::from_secs(3600));
        assert!(s.validate(&token).is_some());
        s.ttl = Some(std::time::Duration::ZERO);
        assert!(s.validate(&token).is_none());
        s.ttl = None;
        assert!(s.validate(&token).is_some());
        let (short, _) = s.issue("00D", "005x", GrantType::SoapLogin);
        assert!(short.starts_with("00D!"));
    }

    #[test]
    fn refresh_tokens_and_revocation() {
        let mut s = Sessions::default();
        let r1 = s.issue_refresh_token("005a");
        let r2 = s.issue_refresh_token("005b");
        assert!(r1.starts_with("5Aep861") && r1 != r2);
        assert_eq!(s.refresh_token_user(&r1), Some("005a"));
        let from = |s: &mut Sessions, r: &str| {
            let principal = Principal {
                user_id: "005a".into(),
                grant: GrantType::RefreshToken,
                refresh_token: Some(r.to_string()),
            };
            s.issue_for("00D5g0000000001AAA", &principal).0
        };
        let a1 = from(&mut s, &r1);
        let a2 = from(&mut s, &r2);
        let (plain, _) = s.issue("00D5g0000000001AAA", "005a", GrantType::Password);
        assert!(s.revoke(&r1));
        assert!(!s.revoke(&r1));
        assert!(s.refresh_token_user(&r1).is_none());
        assert!(s.validate(&a1).is_none(), "derived access token revoked");
        assert!(s.validate(&a2).is_some());
        s.expire_all();
        assert!(
            s.refresh_token_user(&r2).is_some(),
            "refresh survives expiry"
        );
        let a2 = from(&mut s, &r2);
        let (plain2, _) = s.issue("00D5g0000000001AAA", "005a", GrantType::Password);
        s.revoke_refresh_tokens();
        assert!(s.refresh_token_user(&r2).is_none());
        assert!(s.validate(&a2).is_none());
        assert!(s.validate(&plain).is_none());
        assert!(s.validate(&plain2).is_some());
        assert!(s.revoke(&plain2));
        assert!(!s.revoke("nope"));
    }

    #[test]
    fn form_redaction() {
        assert_eq!(
            redact_form(
                "grant_type=password&client_id=abc&client_secret=s3cr%26t&username=u%40x&password=p%3D1"
            ),
            "grant_type=password&client_id=abc&client_secret=<redacted>&username=u%40x&password=<redacted>"
        );
        assert_eq!(
            redact_form("grant_type=urn%3Aietf&assertion=a.b.c&refresh%5Ftoken=5Aep&token=x&x"),
            "grant_type=urn%3Aietf&assertion=<redacted>&refresh%5Ftoken=<redacted>&token=<redacted>&x"
        );
        assert_eq!(redact_form("password=&a=b"), "password=&a=b");
        assert_eq!(redact_form(""), "");
        assert_eq!(redact_form("{\"json\": true}"), "{\"json\": true}");
    }
}
