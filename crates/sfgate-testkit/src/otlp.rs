//! A real OTLP/gRPC trace receiver (`fixtures/otlp_receiver.py` of this crate, on PyPI's grpcio
//! and opentelemetry-proto) for the trace tests: started on 127.0.0.1 with a port the OS picks,
//! stopped by its PID. Without its Python packages the tests say so loudly and skip, unless
//! `SFGATE_TEST_REQUIRE_SERVERS=1`, which makes them fail.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// One span as the receiver got it.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// The trace id, hex.
    pub trace_id: String,
    /// The span id, hex.
    pub span_id: String,
    /// The parent's span id, hex (empty for a root span).
    pub parent_span_id: String,
    /// The span name.
    pub name: String,
    /// OTLP span kind: 2 server, 3 client.
    pub kind: i64,
    /// The resource's `service.name`.
    pub service: String,
    /// OTLP status code: 0 unset, 1 ok, 2 error.
    pub status_code: i64,
    /// The span's attributes.
    pub attributes: serde_json::Map<String, Value>,
}

impl ReceivedSpan {
    /// An attribute as text (numbers and booleans too).
    pub fn attribute(&self, key: &str) -> Option<String> {
        self.attributes.get(key).map(|value| match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
    }
}

/// A running receiver.
#[derive(Debug)]
pub struct OtlpReceiver {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Child,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
}

impl OtlpReceiver {
    /// Starts the receiver, or returns `None` after a loud notice when its packages are missing.
    pub fn start() -> Option<Self> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/otlp_receiver.py");
        let mut child = match Command::new("python3")
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
        {
            Ok(child) => child,
            Err(error) => return missing(&format!("python3 cannot be run ({error})")),
        };
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let Some(port) = first.strip_prefix("listening ") else {
            let _ = child.kill();
            let _ = child.wait();
            return missing(&format!(
                "the OTLP receiver did not start ({first}); install `pip install grpcio opentelemetry-proto`"
            ));
        };
        let port = port.trim().parse().expect("a port number");
        let spans = Arc::new(Mutex::new(Vec::new()));
        let collected = Arc::clone(&spans);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let json: Value = serde_json::from_str(&line).expect("a JSON span");
                let text = |key: &str| json[key].as_str().unwrap_or_default().to_owned();
                collected.lock().unwrap().push(ReceivedSpan {
                    trace_id: text("trace_id"),
                    span_id: text("span_id"),
                    parent_span_id: text("parent_span_id"),
                    name: text("name"),
                    kind: json["kind"].as_i64().unwrap_or_default(),
                    service: text("service"),
                    status_code: json["status_code"].as_i64().unwrap_or_default(),
                    attributes: json["attributes"].as_object().cloned().unwrap_or_default(),
                });
            }
        });
        Some(Self { port, child, spans })
    }

    /// The endpoint sfgate exports to.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The spans received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().unwrap().clone()
    }

    /// Waits until `done` holds for the spans received, or panics after `timeout`.
    pub fn wait_for(
        &self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&[ReceivedSpan]) -> bool,
    ) -> Vec<ReceivedSpan> {
        let deadline = Instant::now() + timeout;
        loop {
            let spans = self.spans();
            if done(&spans) {
                return spans;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; received: {spans:#?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn missing(reason: &str) -> Option<OtlpReceiver> {
    let message = format!("{reason}: the trace export tests cannot run");
    if std::env::var("SFGATE_TEST_REQUIRE_SERVERS").is_ok_and(|value| value == "1") {
        panic!("{message} and SFGATE_TEST_REQUIRE_SERVERS=1");
    }
    eprintln!("\n!!! SKIPPED: {message}. !!!\n");
    None
}
