//! The port's connections — HTTP/2 (gRPC, and HTTP/JSON or gRPC-Web from HTTP/2 clients) and
//! HTTP/1.1 (HTTP/JSON and gRPC-Web), told apart by the HTTP/2 preface or, with TLS, by ALPN —
//! each bounded by `[front_door]`:
//!
//! - at most `max_connections` at once (one more is closed as soon as it is accepted);
//! - the client's first bytes, and its TLS handshake, within `header_timeout`;
//! - at most `max_concurrent_streams` calls open on one HTTP/2 connection (HTTP/1.1: one at a
//!   time), and 16 KiB of headers a call (HTTP/1.1: 431 beyond);
//! - keepalive pings that close a connection whose client vanished;
//! - GOAWAY (HTTP/1.1: closing the kept-alive connection) after `idle_timeout` without a call,
//!   and the connection dropped if it is still
//!   without one `header_timeout` later (a handshake that never finished);
//! - each call's request message within `request_body_timeout` of its headers (reflection's
//!   open-ended stream aside).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rustls::server::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tonic::transport::server::TcpConnectInfo;
use tower::Service;

use crate::config::FrontDoorSettings;
use crate::error::{GatewayError, Reason, Refusal};
use crate::telemetry::metrics::{ConnectionClosed, metrics};
use crate::tenancy::ClientCertificates;

/// Pause after an accept error that is not the peer's (e.g. out of file descriptors), so that
/// the loop does not spin while the condition lasts.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// The request path prefix of the reflection services, whose request stream is open-ended.
const REFLECTION_PATH_PREFIX: &str = "/grpc.reflection.";

/// The most a call's headers may take (`SETTINGS_MAX_HEADER_LIST_SIZE`), as gRPC clients allow.
const MAX_HEADER_LIST_SIZE: u32 = 16 * 1024;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The service every call of the port goes to: the layers over the routes.
pub(super) trait PortService<ResponseBody>:
    Service<
        http::Request<DeadlineBody>,
        Response = http::Response<ResponseBody>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S, ResponseBody> PortService<ResponseBody> for S where
    S: Service<
            http::Request<DeadlineBody>,
            Response = http::Response<ResponseBody>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// Serves `service` on every connection `listener` accepts until `stop_accepting` completes,
/// then asks every connection to finish (GOAWAY) and waits until they have.
pub(super) async fn serve<S, ResponseBody>(
    listener: TcpListener,
    service: S,
    settings: &FrontDoorSettings,
    tls: Option<Arc<ServerConfig>>,
    stop_accepting: impl Future<Output = ()>,
) where
    S: PortService<ResponseBody>,
    ResponseBody: Body<Data = Bytes> + Send + 'static,
    ResponseBody::Error: Into<BoxError>,
{
    let shared = Arc::new(Shared {
        http2: http2_builder(settings),
        http1: http1_builder(settings),
        tls: tls.map(tokio_rustls::TlsAcceptor::from),
        settings: settings.clone(),
        service,
    });
    let capacity = Arc::new(Semaphore::new(settings.max_connections as usize));
    let (closing, closing_seen) = watch::channel(false);
    let mut stop_accepting = pin!(stop_accepting);
    loop {
        let accepted = tokio::select! {
            () = &mut stop_accepting => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                if !is_peer_error(&error) {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&capacity).try_acquire_owned() else {
            tracing::warn!(%remote, max_connections = settings.max_connections, "connection refused: front_door.max_connections are open");
            metrics().connection_closed(ConnectionClosed::OverCapacity);
            continue;
        };
        // Small gRPC messages must not wait on Nagle's algorithm for the peer's delayed ACK.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        tokio::spawn(serve_connection(
            Arc::clone(&shared),
            stream,
            remote,
            permit,
            closing_seen.clone(),
        ));
    }
    drop(closing_seen);
    // No connection may be left waiting: each holds a receiver until it has closed.
    let _ = closing.send(true);
    closing.closed().await;
}

/// What every connection of the port shares.
struct Shared<S> {
    http2: hyper::server::conn::http2::Builder<TokioExecutor>,
    http1: hyper::server::conn::http1::Builder,
    tls: Option<tokio_rustls::TlsAcceptor>,
    settings: FrontDoorSettings,
    service: S,
}

fn http2_builder(
    settings: &FrontDoorSettings,
) -> hyper::server::conn::http2::Builder<TokioExecutor> {
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(settings.max_concurrent_streams)
        .max_header_list_size(MAX_HEADER_LIST_SIZE)
        .keep_alive_interval(settings.keepalive_interval)
        .keep_alive_timeout(settings.keepalive_timeout)
        // h2 counts every stream it resets itself over a connection's life and closes the
        // connection at 1,024 — which a busy client reaches by having calls refused before it
        // finished sending them (a limit's refusal, a deadline). A reset stream's call is
        // cancelled at once here, so such resets cost the gateway nothing to bound.
        .max_local_error_reset_streams(None);
    builder
}

fn http1_builder(settings: &FrontDoorSettings) -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout)
        // The read buffer bounds a request's head: past it, 431 Request Header Fields Too Large.
        .max_buf_size(MAX_HEADER_LIST_SIZE as usize)
        .keep_alive(true);
    builder
}

/// The HTTP/2 connection preface, which tells an HTTP/2 client from an HTTP/1.1 one.
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Reads a client's first bytes, up to the length of the HTTP/2 preface or until they differ from
/// it: `Some(true)` for HTTP/2 (prior knowledge), `Some(false)` for HTTP/1.1, `None` if it closed
/// first. The bytes read are kept, to be served again ([`Rewind`]); the caller bounds the wait by
/// `header_timeout`.
async fn sniff_http2<Io: AsyncRead + Unpin>(io: &mut Io) -> (Option<bool>, Bytes) {
    use tokio::io::AsyncReadExt as _;
    let mut first = Vec::with_capacity(HTTP2_PREFACE.len());
    loop {
        let mut byte = [0_u8; HTTP2_PREFACE.len()];
        let wanted = HTTP2_PREFACE.len() - first.len();
        let read = match io.read(&mut byte[..wanted]).await {
            Ok(0) | Err(_) => return (None, Bytes::from(first)),
            Ok(read) => read,
        };
        first.extend_from_slice(&byte[..read]);
        if !HTTP2_PREFACE.starts_with(&first) {
            return (Some(false), Bytes::from(first));
        }
        if first.len() == HTTP2_PREFACE.len() {
            return (Some(true), Bytes::from(first));
        }
    }
}

pin_project_lite::pin_project! {
    /// A connection whose first bytes were read to tell its protocol: they are read again first.
    struct Rewind<Io> {
        prefix: Bytes,
        #[pin]
        inner: Io,
    }
}

impl<Io: AsyncRead> AsyncRead for Rewind<Io> {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.project();
        if !this.prefix.is_empty() {
            let taken = this.prefix.len().min(buffer.remaining());
            buffer.put_slice(&this.prefix.split_to(taken));
            return Poll::Ready(Ok(()));
        }
        this.inner.poll_read(context, buffer)
    }
}

impl<Io: AsyncWrite> AsyncWrite for Rewind<Io> {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.project().inner.poll_write(context, bytes)
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().inner.poll_flush(context)
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().inner.poll_shutdown(context)
    }
}

/// Serves `io` as the protocol its first bytes tell, within `header_timeout`.
async fn serve_sniffed<S, ResponseBody, Io>(
    shared: &Shared<S>,
    mut io: Io,
    peer: Peer,
    closing: watch::Receiver<bool>,
) where
    S: PortService<ResponseBody>,
    ResponseBody: Body<Data = Bytes> + Send + 'static,
    ResponseBody::Error: Into<BoxError>,
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Ok((protocol, prefix)) =
        tokio::time::timeout(shared.settings.header_timeout, sniff_http2(&mut io)).await
    else {
        tracing::debug!("nothing received within front_door.header_timeout_seconds");
        metrics().connection_closed(ConnectionClosed::HeaderTimeout);
        return;
    };
    let io = Rewind { prefix, inner: io };
    match protocol {
        Some(true) => serve_with(shared, io, peer, closing, Protocol::Http2).await,
        Some(false) => serve_with(shared, io, peer, closing, Protocol::Http1).await,
        None => metrics().connection_closed(ConnectionClosed::ByPeer),
    }
}

/// Errors of one connection attempt that say nothing about the listener.
fn is_peer_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}

/// Serves one accepted connection until it closes.
async fn serve_connection<S, ResponseBody>(
    shared: Arc<Shared<S>>,
    stream: TcpStream,
    remote: SocketAddr,
    permit: OwnedSemaphorePermit,
    closing: watch::Receiver<bool>,
) where
    S: PortService<ResponseBody>,
    ResponseBody: Body<Data = Bytes> + Send + 'static,
    ResponseBody::Error: Into<BoxError>,
{
    let _open = OpenConnection::new(permit);
    let peer = Peer {
        tcp: TcpConnectInfo {
            local_addr: stream.local_addr().ok(),
            remote_addr: Some(remote),
        },
        certificates: None,
    };
    let Some(tls) = &shared.tls else {
        // A client that connects must start talking within the time-out.
        serve_sniffed(&shared, stream, peer, closing).await;
        return;
    };
    match tokio::time::timeout(shared.settings.header_timeout, tls.accept(stream)).await {
        Ok(Ok(stream)) => {
            let (_, session) = stream.get_ref();
            let certificates = session.peer_certificates().map(|certificates| {
                ClientCertificates::new(
                    certificates
                        .iter()
                        .map(|certificate| certificate.clone().into_owned())
                        .collect(),
                )
            });
            let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
            let peer = Peer {
                certificates,
                ..peer
            };
            match alpn.as_deref() {
                Some(super::tls::ALPN_H2) => {
                    serve_with(&shared, stream, peer, closing, Protocol::Http2).await;
                }
                Some(_) => serve_with(&shared, stream, peer, closing, Protocol::Http1).await,
                // A client that negotiated no protocol (some proxies): its first bytes tell.
                None => serve_sniffed(&shared, stream, peer, closing).await,
            }
        }
        Ok(Err(error)) => {
            tracing::debug!(%remote, %error, "TLS handshake failed");
            metrics().connection_closed(ConnectionClosed::Handshake);
        }
        Err(_) => {
            tracing::debug!(%remote, "TLS handshake not finished within front_door.header_timeout_seconds");
            metrics().connection_closed(ConnectionClosed::HeaderTimeout);
        }
    }
}

/// Who is at the other end of a connection, as every call on it learns in its extensions.
#[derive(Clone)]
struct Peer {
    tcp: TcpConnectInfo,
    certificates: Option<ClientCertificates>,
}

/// A connection's count of open calls, watched.
struct OpenCalls {
    /// Held as well as by the service, so that `changed` lasts as long as the connection.
    _counted: Arc<watch::Sender<usize>>,
    changed: watch::Receiver<usize>,
}

/// A hyper connection that can be asked to finish: GOAWAY for HTTP/2, close after the call in
/// progress for HTTP/1.1.
trait Finishing: Future<Output = Result<(), hyper::Error>> {
    fn finish(self: Pin<&mut Self>);
}

impl<I, S, B> Finishing for hyper::server::conn::http2::Connection<I, S, TokioExecutor>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    fn finish(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S, B> Finishing for hyper::server::conn::http1::Connection<I, S>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<BoxError>,
    B: Body + 'static,
    B::Error: Into<BoxError>,
{
    fn finish(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// The two protocols the port serves.
#[derive(Clone, Copy)]
enum Protocol {
    Http2,
    Http1,
}

/// Serves `io` in `protocol` until the connection closes.
async fn serve_with<S, ResponseBody, Io>(
    shared: &Shared<S>,
    io: Io,
    peer: Peer,
    closing: watch::Receiver<bool>,
    protocol: Protocol,
) where
    S: PortService<ResponseBody>,
    ResponseBody: Body<Data = Bytes> + Send + 'static,
    ResponseBody::Error: Into<BoxError>,
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (service, open_calls) = ConnectionService::of(shared, peer);
    let (io, service) = (TokioIo::new(io), TowerToHyperService::new(service));
    match protocol {
        Protocol::Http2 => {
            let connection = shared.http2.serve_connection(io, service);
            drive(&shared.settings, connection, open_calls, closing).await;
        }
        Protocol::Http1 => {
            let connection = shared.http1.serve_connection(io, service);
            drive(&shared.settings, connection, open_calls, closing).await;
        }
    }
}

/// Drives a connection until it closes: asked to finish when it has been without a call for
/// `idle_timeout` or when the port stops accepting.
async fn drive(
    settings: &FrontDoorSettings,
    connection: impl Finishing,
    open_calls: OpenCalls,
    mut closing: watch::Receiver<bool>,
) {
    let OpenCalls {
        _counted,
        changed: mut calls_changed,
    } = open_calls;
    let mut connection = pin!(connection);
    // Without a call for `idle_timeout`, GOAWAY; once closing, a connection still without a
    // call after `header_timeout` is dropped: hyper cannot GOAWAY a connection whose HTTP/2
    // handshake never finished, and such a connection must not keep its place.
    let mut closed_as = None;
    loop {
        let quiet_limit = match closed_as {
            None => settings.idle_timeout,
            Some(_) => Some(settings.header_timeout),
        };
        let quiet = *calls_changed.borrow_and_update() == 0;
        let quiet_for = async {
            match quiet_limit.filter(|_| quiet) {
                Some(limit) => tokio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(%error, "connection ended with an error");
                }
                break;
            }
            () = quiet_for => {
                if closed_as.is_some() {
                    tracing::debug!("connection did not close after GOAWAY: dropped");
                    break;
                }
                closed_as = Some(ConnectionClosed::Idle);
                connection.as_mut().finish();
            }
            _ = calls_changed.changed() => {}
            _ = closing.changed(), if closed_as.is_none() => {
                closed_as = Some(ConnectionClosed::Draining);
                connection.as_mut().finish();
            }
        }
    }
    metrics().connection_closed(closed_as.unwrap_or(ConnectionClosed::ByPeer));
}

/// An accepted connection, counted in `sfgate_connections_open` and holding its place among
/// `max_connections` until it is dropped.
struct OpenConnection {
    _permit: OwnedSemaphorePermit,
}

impl OpenConnection {
    fn new(permit: OwnedSemaphorePermit) -> Self {
        metrics().connection_opened();
        Self { _permit: permit }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        metrics().connection_dropped();
    }
}

/// The service of one connection: counts its open calls (from headers to the response's end),
/// gives each call the peer's address and certificates, and bounds the wait for its body.
#[derive(Clone)]
struct ConnectionService<S> {
    inner: S,
    open_calls: Arc<watch::Sender<usize>>,
    peer: Peer,
    body_timeout: Duration,
}

impl<S: Clone> ConnectionService<S> {
    /// The service of a new connection of `shared`'s port, and the count of its open calls.
    fn of(shared: &Shared<S>, peer: Peer) -> (Self, OpenCalls) {
        let (open_calls, changed) = watch::channel(0_usize);
        let open_calls = Arc::new(open_calls);
        let service = Self {
            inner: shared.service.clone(),
            open_calls: Arc::clone(&open_calls),
            peer,
            body_timeout: shared.settings.request_body_timeout,
        };
        (
            service,
            OpenCalls {
                _counted: open_calls,
                changed,
            },
        )
    }
}

impl<S, ResponseBody> Service<http::Request<Incoming>> for ConnectionService<S>
where
    S: Service<
            http::Request<DeadlineBody>,
            Response = http::Response<ResponseBody>,
            Error = Infallible,
        >,
{
    type Response = http::Response<CallBody<ResponseBody>>;
    type Error = Infallible;
    type Future = CallFuture<S::Future>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<Incoming>) -> Self::Future {
        let open = OpenCall::new(&self.open_calls);
        let (mut parts, body) = request.into_parts();
        parts.extensions.insert(self.peer.tcp.clone());
        if let Some(certificates) = &self.peer.certificates {
            parts.extensions.insert(certificates.clone());
        }
        // Reflection is a conversation on one stream (grpcurl's, an IDE's): its requests come as
        // the client needs them. Every other call sends its one request message at once.
        let body_timeout =
            (!parts.uri.path().starts_with(REFLECTION_PATH_PREFIX)).then_some(self.body_timeout);
        let body = DeadlineBody::new(body, body_timeout);
        CallFuture {
            inner: self.inner.call(http::Request::from_parts(parts, body)),
            open: Some(open),
        }
    }
}

/// One open call of a connection, counted until dropped.
struct OpenCall(Arc<watch::Sender<usize>>);

impl OpenCall {
    fn new(open_calls: &Arc<watch::Sender<usize>>) -> Self {
        open_calls.send_modify(|open| *open += 1);
        Self(Arc::clone(open_calls))
    }
}

impl Drop for OpenCall {
    fn drop(&mut self) {
        self.0.send_modify(|open| *open -= 1);
    }
}

pin_project_lite::pin_project! {
    /// A call's response future, keeping the call counted until its body is over.
    struct CallFuture<F> {
        #[pin]
        inner: F,
        open: Option<OpenCall>,
    }
}

impl<F, ResponseBody> Future for CallFuture<F>
where
    F: Future<Output = Result<http::Response<ResponseBody>, Infallible>>,
{
    type Output = Result<http::Response<CallBody<ResponseBody>>, Infallible>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(context))?;
        let open = this.open.take();
        Poll::Ready(Ok(response.map(|inner| CallBody { inner, _open: open })))
    }
}

pin_project_lite::pin_project! {
    /// A call's response body, keeping the call counted until it is dropped.
    struct CallBody<B> {
        #[pin]
        inner: B,
        _open: Option<OpenCall>,
    }
}

impl<B: Body> Body for CallBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(context)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pin_project_lite::pin_project! {
    /// A call's request body that fails with DEADLINE_EXCEEDED (REQUEST_BODY_TIMEOUT) when it has
    /// not ended within the front door's `request_body_timeout` of the call's headers. The timer
    /// is only armed when the body makes the call wait.
    pub struct DeadlineBody {
        #[pin]
        inner: Incoming,
        // With the time-out it is for; none for a call whose requests may come at any time.
        deadline: Option<(Instant, Duration)>,
        timer: Option<Pin<Box<Sleep>>>,
        expired: bool,
    }
}

impl DeadlineBody {
    fn new(inner: Incoming, timeout: Option<Duration>) -> Self {
        Self {
            inner,
            deadline: timeout.map(|timeout| (Instant::now() + timeout, timeout)),
            timer: None,
            expired: false,
        }
    }
}

impl Body for DeadlineBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if *this.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = this.inner.poll_frame(context) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let Some((deadline, timeout)) = *this.deadline else {
            return Poll::Pending;
        };
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        ready!(timer.as_mut().poll(context));
        *this.expired = true;
        let refusal = Refusal::new(
            Reason::RequestBodyTimeout,
            format!(
                "the request message did not arrive within {} s of the call's headers (front_door.request_body_timeout_seconds)",
                timeout.as_secs()
            ),
        );
        let status = tonic::Status::from(GatewayError::Refused(refusal));
        Poll::Ready(Some(Err(Box::new(status))))
    }

    fn is_end_stream(&self) -> bool {
        self.expired || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
