//! Fault injection: errors, latency and dropped connections on chosen requests.
//!
//! Dropping a connection needs help from the transport: every accepted socket is
//! wrapped in a [`KillableStream`] whose kill switch reaches handlers as
//! [`ConnectInfo<KillSwitch>`](axum::extract::ConnectInfo). A killed stream fails
//! every read and write, so hyper abandons the connection before writing a byte
//! and the socket is closed with a reset.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A fault to inject into matching data-API (`/services/data/...`), SOAP
/// (`/services/Soap/...`) and OAuth (`/services/oauth2/...`, e.g. the token
/// endpoint) requests. The `/_sandbox/...` control endpoints are never affected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Only requests whose path contains this text (any path when `None`).
    pub path_contains: Option<String>,
    /// Only requests with this HTTP method, case-insensitive (any when `None`).
    pub method: Option<String>,
    /// How many matching requests the fault affects; `0` means every matching
    /// request until the faults are cleared.
    pub times: u32,
    /// What happens to an affected request.
    pub kind: FaultKind,
}

/// What an injected fault does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Answers with Salesforce's JSON error array (a SOAP Fault on SOAP paths,
    /// `{"error": error_code, "error_description": message}` on OAuth paths).
    Error {
        /// HTTP status, e.g. 503.
        http_status: u16,
        /// Salesforce error code, e.g. `SERVER_UNAVAILABLE` (on OAuth paths the
        /// `error`, e.g. `invalid_grant`).
        error_code: String,
        /// Error message.
        message: String,
    },
    /// Delays the request, then serves it normally.
    Latency(Duration),
    /// Drops the connection without a response (before serving: nothing is done).
    CloseConnection,
    /// Serves the request (a write is done), then drops the connection without the response.
    CloseAfterServing,
    /// Serves the request, then answers its status with this body instead of its own.
    ReplaceBody(String),
    /// Serves the request, sends its status and half its body, then breaks the connection.
    TruncateBody,
}

impl FaultKind {
    /// Whether the request is served before the fault acts on its response.
    pub(crate) fn serves_first(&self) -> bool {
        matches!(
            self,
            Self::CloseAfterServing | Self::ReplaceBody(_) | Self::TruncateBody
        )
    }
}

impl Fault {
    fn applies_to(&self, method: &str, path: &str) -> bool {
        self.path_contains
            .as_deref()
            .is_none_or(|p| path.contains(p))
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
    }
}

/// The active faults, in the order they were injected.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    active: Vec<Fault>,
}

impl Faults {
    /// Adds a fault.
    pub(crate) fn add(&mut self, fault: Fault) {
        self.active.push(fault);
    }

    /// Removes every fault.
    pub(crate) fn clear(&mut self) {
        self.active.clear();
    }

    /// The first fault matching the request, consuming one of its `times`.
    pub(crate) fn take(&mut self, method: &str, path: &str) -> Option<FaultKind> {
        let index = self
            .active
            .iter()
            .position(|f| f.applies_to(method, path))?;
        let fault = &mut self.active[index];
        let kind = fault.kind.clone();
        match fault.times {
            0 => {}
            1 => {
                self.active.remove(index);
            }
            _ => fault.times -= 1,
        }
        Some(kind)
    }
}

/// The JSON body of `POST /_sandbox/faults`.
#[derive(Debug, Deserialize)]
struct FaultSpec {
    path_contains: Option<String>,
    method: Option<String>,
    times: Option<u32>,
    error: Option<ErrorSpec>,
    latency_ms: Option<u64>,
    #[serde(default)]
    close_connection: bool,
    #[serde(default)]
    close_after_serving: bool,
    replace_body: Option<String>,
    #[serde(default)]
    truncate_body: bool,
}

#[derive(Debug, Deserialize)]
struct ErrorSpec {
    http_status: u16,
    error_code: String,
    message: String,
}

/// Parses the JSON body of `POST /_sandbox/faults`.
pub(crate) fn parse_spec(body: &str) -> Result<Fault, String> {
    let spec: FaultSpec = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let kind = match (
        spec.error,
        spec.latency_ms,
        spec.close_connection,
        spec.close_after_serving,
        spec.replace_body,
        spec.truncate_body,
    ) {
        (Some(e), None, false, false, None, false) => {
            if !(100..=599).contains(&e.http_status) {
                return Err(format!("invalid http_status {}", e.http_status));
            }
            FaultKind::Error {
                http_status: e.http_status,
                error_code: e.error_code,
                message: e.message,
            }
        }
        (None, Some(ms), false, false, None, false) => {
            FaultKind::Latency(Duration::from_millis(ms))
        }
        (None, None, true, false, None, false) => FaultKind::CloseConnection,
        (None, None, false, true, None, false) => FaultKind::CloseAfterServing,
        (None, None, false, false, Some(body), false) => FaultKind::ReplaceBody(body),
        (None, None, false, false, None, true) => FaultKind::TruncateBody,
        _ => return Err(
            "give exactly one of error, latency_ms, close_connection, close_after_serving, replace_body, truncate_body"
                .into(),
        ),
    };
    Ok(Fault {
        path_contains: spec.path_contains,
        method: spec.method,
        times: spec.times.unwrap_or(1),
        kind,
    })
}

/// A TCP listener whose connections can be dropped by a handler.
#[derive(Debug)]
pub(crate) struct KillableListener(pub(crate) TcpListener);

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let killed = KillSwitch(Arc::new(AtomicBool::new(false)));
                    return (KillableStream { stream, killed }, addr);
                }
                // Out of file descriptors and the like: back off and retry.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// Drops the connection it belongs to.
#[derive(Debug, Clone)]
pub(crate) struct KillSwitch(Arc<AtomicBool>);

impl KillSwitch {
    /// Makes every further read and write on the connection fail.
    pub(crate) fn kill(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn is_killed(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for KillSwitch {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.io().killed.clone()
    }
}

/// A TCP stream with a kill switch.
#[derive(Debug)]
pub(crate) struct KillableStream {
    stream: TcpStream,
    killed: KillSwitch,
}

impl KillableStream {
    fn reset(&self) -> io::Error {
        // Close with RST rather than FIN, as a crashed peer or proxy would.
        let _ = self.stream.set_zero_linger();
        io::Error::new(
            io::ErrorKind::ConnectionReset,
            "fault injected: connection dropped",
        )
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.killed.is_killed() {
            return Poll::Ready(Err(this.reset()));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.killed.is_killed() {
            return Poll::Ready(Err(this.reset()));
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.killed.is_killed() {
            return Poll::Ready(Err(this.reset()));
        }
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.killed.is_killed() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(path: Option<&str>, method: Option<&str>, times: u32) -> Fault {
        Fault {
            path_contains: path.map(Into::into),
            method: method.map(Into::into),
            times,
            kind: FaultKind::CloseConnection,
        }
    }

    #[test]
    fn matching_consumes_times() {
        let mut f = Faults::default();
        f.add(fault(Some("/query"), Some("get"), 2));
        assert!(f.take("POST", "/services/data/v66.0/query").is_none());
        assert!(f.take("GET", "/services/data/v66.0/sobjects").is_none());
        assert!(f.take("GET", "/services/data/v66.0/query").is_some());
        assert!(f.take("GET", "/services/data/v66.0/query").is_some());
        assert!(f.take("GET", "/services/data/v66.0/query").is_none());
        f.add(fault(None, None, 0));
        for _ in 0..5 {
            assert!(f.take("PATCH", "/x").is_some());
        }
        f.clear();
        assert!(f.take("PATCH", "/x").is_none());
    }

    #[test]
    fn spec_parsing() {
        let f = parse_spec(r#"{"path_contains":"/sobjects","times":2,"error":{"http_status":503,"error_code":"SERVER_UNAVAILABLE","message":"down"}}"#).expect("spec");
        assert_eq!(f.times, 2);
        assert!(matches!(
            f.kind,
            FaultKind::Error {
                http_status: 503,
                ..
            }
        ));
        let f = parse_spec(r#"{"latency_ms":250}"#).expect("latency");
        assert_eq!(
            (f.times, f.kind),
            (1, FaultKind::Latency(Duration::from_millis(250)))
        );
        assert!(parse_spec(r#"{"times":1}"#).is_err());
        assert!(parse_spec("nope").is_err());
    }
}
