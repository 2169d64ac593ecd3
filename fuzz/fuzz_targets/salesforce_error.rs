//! Salesforce error responses, any status and body: decoded without a panic into a status that
//! is never OK or UNKNOWN and whose message and details stay under 8 KiB together (so that
//! every gRPC client receives it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfgate::error::GatewayError;
use sfgate::salesforce::fuzzing::error_response;

fuzz_target!(|input: (u16, &[u8])| {
    let (http_status, body) = input;
    for http_status in [http_status, 400, 404, 500] {
        let status = tonic::Status::from(GatewayError::from(error_response(http_status, body)));
        assert_ne!(status.code(), tonic::Code::Ok);
        assert_ne!(status.code(), tonic::Code::Unknown, "{status:?}");
        let size = status.message().len() + status.details().len();
        assert!(size < 8 * 1024, "{size} bytes for HTTP {http_status}");
    }
});
