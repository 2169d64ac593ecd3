//! A call made by a real grpcio client (`fixtures/grpcio_call.py`, PyPI's `grpcio` and
//! `grpcio-status`), for what grpc-core clients see that tonic's may not (its 16 KiB limit on
//! received metadata). Without the packages the test says so loudly and skips, unless
//! `SFGATE_TEST_REQUIRE_SERVERS=1`, which makes it fail.

use std::net::SocketAddr;
use tokio::process::Command;

use serde_json::Value;

/// Calls `method` (from a child process, so that a gateway on the caller's runtime keeps serving) (`/sfgate.v1.AccountService/UpsertAccount`) with the encoded `request`; the
/// status the client received (`code` as grpcio names it, `message_length`, `violations`), or
/// `None` when grpcio is missing.
pub async fn call(
    address: SocketAddr,
    method: &str,
    request: &[u8],
    tenant: &str,
    key: &str,
) -> Option<Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/grpcio_call.py");
    let file = tempfile_with(request);
    let output = match Command::new("python3")
        .arg(script)
        .arg(address.port().to_string())
        .arg(method)
        .arg(&file)
        .arg(tenant)
        .arg(key)
        .output()
        .await
    {
        Ok(output) => output,
        Err(error) => return missing(&format!("python3 cannot be run ({error})")),
    };
    let _ = std::fs::remove_file(&file);
    let stdout = String::from_utf8_lossy(&output.stdout);
    if let Some(why) = stdout.strip_prefix("missing: ") {
        return missing(&format!(
            "{}; install `pip install grpcio grpcio-status`",
            why.trim()
        ));
    }
    assert!(output.status.success(), "grpcio_call.py failed: {output:?}");
    Some(serde_json::from_str(stdout.trim()).expect("the script prints JSON"))
}

/// A file holding `bytes`, named uniquely for this process and call.
fn tempfile_with(bytes: &[u8]) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "sfgate-grpcio-{}-{}.bin",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, bytes).expect("write the request");
    path
}

fn missing(reason: &str) -> Option<Value> {
    let message = format!("{reason}: the grpcio client test cannot run");
    if std::env::var("SFGATE_TEST_REQUIRE_SERVERS").is_ok_and(|value| value == "1") {
        panic!("{message} and SFGATE_TEST_REQUIRE_SERVERS=1");
    }
    eprintln!("\n!!! SKIPPED: {message}. !!!\n");
    None
}
