//! Entry points of Salesforce's response decoders for the fuzz targets in `fuzz/` (feature
//! `fuzzing` only).

use super::{LeadConversion, SalesforceError, soap};

/// The error an error response with this HTTP status and body decodes to.
pub fn error_response(http_status: u16, body: &[u8]) -> SalesforceError {
    SalesforceError::from_response(http_status, body)
}

/// Decodes a SOAP `convertLeadResponse`: the conversion, or the error it reports.
pub fn convert_lead_response(
    http_status: u16,
    body: &[u8],
) -> Result<LeadConversion, SalesforceError> {
    soap::parse_convert_lead_response(http_status, body)
}
