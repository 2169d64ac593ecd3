//! SOAP `convertLeadResponse` bodies, any bytes: a conversion with valid IDs or an error status
//! (never OK or UNKNOWN, under 8 KiB), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfgate::error::GatewayError;
use sfgate::salesforce::fuzzing::convert_lead_response;

fuzz_target!(|input: (bool, &[u8])| {
    let (ok, body) = input;
    match convert_lead_response(if ok { 200 } else { 500 }, body) {
        Ok(conversion) => {
            for id in [
                &conversion.lead_id,
                &conversion.account_id,
                &conversion.contact_id,
            ] {
                assert_eq!(id.as_str().len(), 18);
            }
        }
        Err(error) => {
            let status = tonic::Status::from(GatewayError::from(error));
            assert_ne!(status.code(), tonic::Code::Ok);
            assert_ne!(status.code(), tonic::Code::Unknown, "{status:?}");
            assert!(status.message().len() + status.details().len() < 8 * 1024);
        }
    }
});
