//! Entry points of Salesforce's response decoders for the fuzz targets in `fuzz/` (feature
//! `fuzzing` only).

use super::{LeadConversion, SalesforceError, soap};
use crate::error::GatewayError;

/// The status a caller gets for an error response with this HTTP status and body.
pub fn error_status(http_status: u16, body: &[u8]) -> tonic::Status {
    GatewayError::from(SalesforceError::from_response(http_status, body)).into()
}

/// Decodes a SOAP `convertLeadResponse`: the conversion, or the status its error gets.
pub fn convert_lead_response(
    http_status: u16,
    body: &[u8],
) -> Result<LeadConversion, tonic::Status> {
    soap::parse_convert_lead_response(http_status, body)
        .map_err(|error| GatewayError::from(error).into())
}
