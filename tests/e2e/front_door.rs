//! The gRPC port's limits (`[front_door]`), tried with a raw HTTP/2 client that misbehaves as
//! an attacker would: more streams than allowed, a body that never finishes, pings left
//! unanswered, connections that say nothing, more connections than the cap.

use std::time::Duration;

use sfgate::config::FrontDoorSettings;
use sfgate::pb::GetLeadRequest;
use sfgate_testkit::h2raw::{
    REFUSED_STREAM, RawH2, Read, SETTINGS_MAX_CONCURRENT_STREAMS, frame_type,
};
use sfgate_testkit::{API_KEY, TestApp, reason, spawn_app_with};

const GET_LEAD: &str = "/sfgate.v1.LeadService/GetLead";
/// Plenty for anything the tests wait for, whose limits are a second or two.
const WAIT: Duration = Duration::from_secs(10);

async fn app_with(front_door: FrontDoorSettings) -> TestApp {
    spawn_app_with(|config| config.front_door = front_door).await
}

fn call_headers() -> Vec<(&'static str, String)> {
    vec![
        ("x-tenant-id", "sandbox".to_owned()),
        ("authorization", format!("Bearer {API_KEY}")),
    ]
}

async fn open_stalled_call(connection: &mut RawH2, stream: u32) {
    let headers = call_headers();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    connection
        .send_headers(stream, GET_LEAD, &headers, false)
        .await
        .expect("send headers");
}

async fn metrics_text(app: &TestApp) -> String {
    reqwest::get(format!("http://{}/metrics", app.admin_address))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text")
}

fn closed_count(metrics: &str, reason: &str) -> u64 {
    let prefix = format!("sfgate_connections_closed_total{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map_or(0, |value| value.trim().parse().expect("a count"))
}

#[tokio::test]
async fn the_defaults_are_finite() {
    let defaults = FrontDoorSettings::default();
    assert_eq!(defaults.max_concurrent_streams, 1_024);
    assert_eq!(defaults.max_connections, 10_000);
    assert!(defaults.idle_timeout <= Some(Duration::from_secs(60)));
    assert!(defaults.request_body_timeout <= Duration::from_secs(60));
    assert!(defaults.header_timeout <= Duration::from_secs(60));
    let keepalive = defaults.keepalive_interval.expect("keepalive on") + defaults.keepalive_timeout;
    assert!(
        keepalive <= Duration::from_secs(60),
        "a vanished client is found within a minute"
    );
}

#[tokio::test]
async fn streams_beyond_the_limit_are_refused_and_the_others_kept() {
    let app = app_with(FrontDoorSettings {
        max_concurrent_streams: 4,
        ..FrontDoorSettings::default()
    })
    .await;
    let mut connection = RawH2::connect(app.address).await;
    let settings = connection.handshake().await.expect("the server's SETTINGS");
    assert!(
        settings
            .settings()
            .contains(&(SETTINGS_MAX_CONCURRENT_STREAMS, 4)),
        "advertised: {:?}",
        settings.settings()
    );
    for stream in [1, 3, 5, 7, 9] {
        open_stalled_call(&mut connection, stream).await;
    }
    let refused = connection
        .read_until(WAIT, true, |frame| frame.kind == frame_type::RST_STREAM)
        .await;
    let Read::Frame(refused) = refused else {
        panic!("the fifth stream was not refused: {refused:?}");
    };
    assert_eq!(
        (refused.stream, refused.error_code()),
        (9, Some(REFUSED_STREAM))
    );
    // The four within the limit stay open; nothing else was reset.
    let more = connection
        .read_until(Duration::from_millis(500), true, |frame| {
            frame.kind == frame_type::RST_STREAM || frame.kind == frame_type::GOAWAY
        })
        .await;
    assert_eq!(more, Read::TimedOut);
}

#[tokio::test]
async fn a_call_whose_body_stalls_gets_deadline_exceeded() {
    let app = app_with(FrontDoorSettings {
        request_body_timeout: Duration::from_secs(1),
        ..FrontDoorSettings::default()
    })
    .await;
    let tcp = tokio::net::TcpStream::connect(app.address).await.unwrap();
    let (mut client, connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
    tokio::spawn(connection);
    let mut request = http::Request::post(format!("http://{}{GET_LEAD}", app.address))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in call_headers() {
        request = request.header(name, value);
    }
    let (response, mut body) = client
        .send_request(request.body(()).unwrap(), false)
        .expect("send request");
    // A gRPC message announced as 100 bytes, of which 10 arrive.
    let mut partial = vec![0_u8, 0, 0, 0, 100];
    partial.extend_from_slice(&[0x0a; 10]);
    body.send_data(partial.into(), false).expect("send data");
    let response = tokio::time::timeout(WAIT, response)
        .await
        .expect("an answer before the test's wait")
        .expect("a response");
    let headers = response.headers();
    assert_eq!(
        headers["grpc-status"], "4",
        "DEADLINE_EXCEEDED: {headers:?}"
    );
    let status = tonic::Status::from_header_map(headers).expect("a status");
    assert_eq!(reason(&status), "REQUEST_BODY_TIMEOUT");
    assert!(
        status.message().contains("request_body_timeout_seconds"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn an_idle_connection_gets_goaway_and_a_client_carries_on() {
    let app = app_with(FrontDoorSettings {
        idle_timeout: Some(Duration::from_secs(1)),
        ..FrontDoorSettings::default()
    })
    .await;
    let mut connection = RawH2::connect(app.address).await;
    connection.handshake().await.expect("the server's SETTINGS");
    let goaway = connection
        .read_until(WAIT, true, |frame| frame.kind == frame_type::GOAWAY)
        .await;
    assert!(
        matches!(&goaway, Read::Frame(frame) if frame.error_code() == Some(0)),
        "an idle connection gets GOAWAY(NO_ERROR): {goaway:?}"
    );
    let closed = connection.read_until(WAIT, true, |_| false).await;
    assert_eq!(closed, Read::Closed, "and is then closed");
    assert!(closed_count(&metrics_text(&app).await, "idle") >= 1);

    // A client whose connection was closed while idle makes its next call without an error.
    let request = || GetLeadRequest {
        id: app.seeded_lead(),
        fields: None,
    };
    app.leads()
        .get_lead(app.request(request()))
        .await
        .expect("first call");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    app.leads()
        .get_lead(app.request(request()))
        .await
        .expect("the call after the idle close");
}

#[tokio::test]
async fn a_client_that_stops_answering_pings_is_closed() {
    let app = app_with(FrontDoorSettings {
        keepalive_interval: Some(Duration::from_secs(1)),
        keepalive_timeout: Duration::from_secs(1),
        idle_timeout: None,
        ..FrontDoorSettings::default()
    })
    .await;
    let mut connection = RawH2::connect(app.address).await;
    connection.handshake().await.expect("the server's SETTINGS");
    let ping = connection
        .read_until(WAIT, false, |frame| frame.kind == frame_type::PING)
        .await;
    assert!(matches!(ping, Read::Frame(_)), "the server pings: {ping:?}");
    // Left unanswered, the connection is closed.
    let after = connection
        .read_until(WAIT, false, |frame| frame.kind == frame_type::GOAWAY)
        .await;
    assert!(
        matches!(after, Read::Closed | Read::Frame(_)),
        "a silent client's connection is closed: {after:?}"
    );
    if matches!(after, Read::Frame(_)) {
        assert_eq!(
            connection.read_until(WAIT, false, |_| false).await,
            Read::Closed
        );
    }
}

#[tokio::test]
async fn a_connection_that_says_nothing_is_closed() {
    let app = app_with(FrontDoorSettings {
        header_timeout: Duration::from_secs(1),
        ..FrontDoorSettings::default()
    })
    .await;
    let mut connection = RawH2::connect(app.address).await;
    assert_eq!(connection.read_frame(WAIT).await, Read::Closed);
    assert!(closed_count(&metrics_text(&app).await, "header_timeout") >= 1);
}

#[tokio::test]
async fn a_connection_that_stalls_in_its_handshake_is_dropped() {
    let app = app_with(FrontDoorSettings {
        header_timeout: Duration::from_secs(1),
        idle_timeout: Some(Duration::from_secs(1)),
        ..FrontDoorSettings::default()
    })
    .await;
    let mut connection = RawH2::connect(app.address).await;
    // The first byte of the preface, and no more: hyper's handshake waits for the rest.
    connection.send_raw(b"P").await.expect("send a byte");
    let closed = connection.read_until(WAIT, false, |_| false).await;
    assert_eq!(
        closed,
        Read::Closed,
        "a stalled handshake does not keep its place"
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_until_one_leaves() {
    let app = app_with(FrontDoorSettings {
        max_connections: 2,
        ..FrontDoorSettings::default()
    })
    .await;
    let mut first = RawH2::connect(app.address).await;
    first
        .handshake()
        .await
        .expect("the first connection is served");
    let mut second = RawH2::connect(app.address).await;
    second
        .handshake()
        .await
        .expect("the second connection is served");
    let before = closed_count(&metrics_text(&app).await, "over_capacity");
    let mut third = RawH2::connect(app.address).await;
    assert_eq!(third.handshake().await, None, "the third is closed at once");
    assert!(closed_count(&metrics_text(&app).await, "over_capacity") > before);

    drop(first);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut again = RawH2::connect(app.address).await;
        if again.handshake().await.is_some() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a place freed by a closed connection is taken again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_reflection_conversation_outlives_the_body_timeout() {
    use tonic_reflection::pb::v1;
    let app = app_with(FrontDoorSettings {
        request_body_timeout: Duration::from_secs(1),
        ..FrontDoorSettings::default()
    })
    .await;
    let (requests, stream) = tokio::sync::mpsc::channel(4);
    let list = || v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    requests.send(list()).await.unwrap();
    let mut responses =
        v1::server_reflection_client::ServerReflectionClient::new(app.channel.clone())
            .server_reflection_info(tokio_stream::wrappers::ReceiverStream::new(stream))
            .await
            .expect("reflection")
            .into_inner();
    assert!(responses.message().await.expect("first answer").is_some());
    // Past the body time-out, the same stream still answers: its requests come as needed.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    requests.send(list()).await.unwrap();
    assert!(responses.message().await.expect("second answer").is_some());
}

/// An HTTP/1.1 exchange on a raw connection: what the server sent until it closed or went quiet.
async fn http1_exchange(
    stream: &mut tokio::net::TcpStream,
    request: &[u8],
    quiet: Duration,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request).await.unwrap();
    let mut received = Vec::new();
    let mut buffer = [0_u8; 8192];
    while let Ok(Ok(read)) = tokio::time::timeout(quiet, stream.read(&mut buffer)).await {
        if read == 0 {
            break;
        }
        received.extend_from_slice(&buffer[..read]);
    }
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn http1_callers_meet_the_same_bounds() {
    use tokio::io::AsyncReadExt;
    let app = app_with(FrontDoorSettings {
        idle_timeout: Some(Duration::from_secs(1)),
        request_body_timeout: Duration::from_secs(1),
        ..FrontDoorSettings::default()
    })
    .await;
    let id = app.seeded_lead();
    let head = |extra: &str| {
        format!(
            "GET /v1/leads/{id} HTTP/1.1\r\nhost: sfgate\r\nx-tenant-id: sandbox\r\nauthorization: Bearer {API_KEY}\r\n{extra}\r\n"
        )
    };
    // Headers over 16 KiB: 431, nothing served.
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    let oversized = head(&format!("x-padding: {}\r\n", "p".repeat(20 * 1024)));
    let answered = http1_exchange(&mut stream, oversized.as_bytes(), Duration::from_secs(2)).await;
    assert!(answered.starts_with("HTTP/1.1 431"), "{answered}");

    // A kept-alive connection without a call for idle_timeout is closed.
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    let answered =
        http1_exchange(&mut stream, head("").as_bytes(), Duration::from_millis(300)).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    let mut rest = [0_u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut rest)).await;
    assert!(
        matches!(closed, Ok(Ok(0))),
        "the idle connection was closed: {closed:?}"
    );

    // A body that does not arrive within request_body_timeout: 408, REQUEST_BODY_TIMEOUT.
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    let stalled = format!(
        "POST /v1/leads HTTP/1.1\r\nhost: sfgate\r\nx-tenant-id: sandbox\r\nauthorization: Bearer {API_KEY}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"lastName\""
    );
    let answered = http1_exchange(&mut stream, stalled.as_bytes(), Duration::from_secs(3)).await;
    assert!(answered.starts_with("HTTP/1.1 408"), "{answered}");
    assert!(answered.contains("REQUEST_BODY_TIMEOUT"), "{answered}");

    // Without a key, the same stalled body is not waited for: refused on the headers alone.
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    let anonymous = stalled.replace(&format!("authorization: Bearer {API_KEY}\r\n"), "");
    let answered = http1_exchange(&mut stream, anonymous.as_bytes(), Duration::from_secs(3)).await;
    assert!(answered.starts_with("HTTP/1.1 401"), "{answered}");
    assert!(answered.contains("API_KEY_MISSING"), "{answered}");
}
