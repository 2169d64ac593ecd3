//! The SOAP partner API call `convertLead`: Salesforce's REST API cannot convert leads.

use quick_xml::escape::escape;
use quick_xml::events::Event;
use quick_xml::reader::Reader;
use secrecy::{ExposeSecret, SecretString};

use super::error::{ApiErrorItem, SalesforceError};
use super::id::SalesforceId;

/// One lead conversion, as `convertLead`'s `LeadConvert` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadConvert {
    /// The lead to convert.
    pub lead_id: SalesforceId,
    /// Merge into this account instead of creating one.
    pub account_id: Option<SalesforceId>,
    /// Merge into this contact instead of creating one.
    pub contact_id: Option<SalesforceId>,
    /// The converted status (a LeadStatus with IsConverted = true).
    pub converted_status: String,
    /// Skip creating an opportunity.
    pub do_not_create_opportunity: bool,
    /// Name of the new opportunity.
    pub opportunity_name: Option<String>,
    /// Owner of the new records.
    pub owner_id: Option<SalesforceId>,
}

/// The records a converted lead became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadConversion {
    /// The lead.
    pub lead_id: SalesforceId,
    /// The account created or merged into.
    pub account_id: SalesforceId,
    /// The contact created or merged into.
    pub contact_id: SalesforceId,
    /// The opportunity created, if any.
    pub opportunity_id: Option<SalesforceId>,
}

/// Writes the `convertLead` envelope, elements in the order of the partner WSDL's `LeadConvert`
/// sequence (Salesforce rejects them out of order). Every value is XML-escaped; the session id is the only
/// secret and is exposed here, where the request body is written.
pub(crate) fn convert_lead_envelope(session_id: &SecretString, convert: &LeadConvert) -> String {
    let optional_id = |name: &str, id: &Option<SalesforceId>| match id {
        Some(id) => format!("<urn:{name}>{}</urn:{name}>", id.as_str()),
        None => String::new(),
    };
    let opportunity_name = match &convert.opportunity_name {
        Some(name) => format!(
            "<urn:opportunityName>{}</urn:opportunityName>",
            escape(name.as_str())
        ),
        None => String::new(),
    };
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com">"#,
            "<soapenv:Header><urn:SessionHeader><urn:sessionId>{session}</urn:sessionId></urn:SessionHeader></soapenv:Header>",
            "<soapenv:Body><urn:convertLead><urn:leadConverts>",
            "{account}{contact}<urn:convertedStatus>{status}</urn:convertedStatus>",
            "<urn:doNotCreateOpportunity>{no_opportunity}</urn:doNotCreateOpportunity>",
            "<urn:leadId>{lead}</urn:leadId>{opportunity_name}",
            "<urn:overwriteLeadSource>false</urn:overwriteLeadSource>{owner}",
            "<urn:sendNotificationEmail>false</urn:sendNotificationEmail>",
            "</urn:leadConverts></urn:convertLead></soapenv:Body></soapenv:Envelope>"
        ),
        session = escape(session_id.expose_secret()),
        account = optional_id("accountId", &convert.account_id),
        contact = optional_id("contactId", &convert.contact_id),
        status = escape(convert.converted_status.as_str()),
        no_opportunity = convert.do_not_create_opportunity,
        lead = convert.lead_id.as_str(),
        opportunity_name = opportunity_name,
        owner = optional_id("ownerId", &convert.owner_id),
    )
}

/// The text content of the elements of a SOAP response we care about, by local name.
#[derive(Default, Debug)]
struct ConvertLeadResult {
    account_id: Option<String>,
    contact_id: Option<String>,
    lead_id: Option<String>,
    opportunity_id: Option<String>,
    success: Option<bool>,
    errors: Vec<ApiErrorItem>,
    fault_code: Option<String>,
    fault_string: Option<String>,
}

/// Reads a `convertLeadResponse` (or a `Fault`) into the conversion or the error it reports.
pub(crate) fn parse_convert_lead_response(
    http_status: u16,
    body: &[u8],
) -> Result<LeadConversion, SalesforceError> {
    let parsed = read_result(body).map_err(|detail| SalesforceError::UnexpectedResponse {
        http_status,
        detail,
    })?;
    if let Some(fault_code) = parsed.fault_code {
        let fault_code = fault_code.rsplit(':').next().unwrap_or_default().to_owned();
        return Err(SalesforceError::SoapFault {
            fault_code,
            message: parsed.fault_string.unwrap_or_default(),
        });
    }
    if parsed.success != Some(true) {
        if parsed.errors.is_empty() {
            return Err(SalesforceError::UnexpectedResponse {
                http_status,
                detail: "convertLead result without success or errors".into(),
            });
        }
        // A per-lead failure arrives with HTTP 200; report it as the request error it is.
        return Err(SalesforceError::Api {
            http_status: 400,
            errors: parsed.errors,
        });
    }
    // The lead is converted: an ID that cannot be read is an answer lost, not a failure.
    let id = |value: Option<String>, name: &str| {
        value
            .as_deref()
            .map(SalesforceId::parse)
            .transpose()
            .map_err(|error| SalesforceError::WriteAnswerLost {
                http_status,
                detail: format!("{name} {error}"),
            })
    };
    let required = |value: Option<SalesforceId>, name: &str| {
        value.ok_or_else(|| SalesforceError::WriteAnswerLost {
            http_status,
            detail: format!("{name} missing"),
        })
    };
    Ok(LeadConversion {
        lead_id: required(id(parsed.lead_id, "leadId")?, "leadId")?,
        account_id: required(id(parsed.account_id, "accountId")?, "accountId")?,
        contact_id: required(id(parsed.contact_id, "contactId")?, "contactId")?,
        opportunity_id: id(parsed.opportunity_id, "opportunityId")?,
    })
}

fn read_result(body: &[u8]) -> Result<ConvertLeadResult, String> {
    let mut reader = Reader::from_reader(body);
    let mut result = ConvertLeadResult::default();
    let mut path: Vec<String> = Vec::new();
    // An element's text arrives in pieces: text, entity references (`&lt;`), CDATA.
    let mut text = String::new();
    let mut buffer = Vec::new();
    loop {
        match reader
            .read_event_into(&mut buffer)
            .map_err(|error| error.to_string())?
        {
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                if name == "errors" && path.last().is_some_and(|parent| parent == "result") {
                    result.errors.push(ApiErrorItem {
                        error_code: String::new(),
                        message: String::new(),
                        fields: Vec::new(),
                    });
                }
                path.push(name);
                text.clear();
            }
            Event::End(_) => {
                let value = text.trim();
                if !value.is_empty() {
                    store_text(&mut result, &path, value.to_owned());
                }
                text.clear();
                path.pop();
            }
            Event::Text(piece) => {
                text.push_str(&piece.decode().map_err(|error| error.to_string())?)
            }
            Event::CData(piece) => {
                text.push_str(&piece.decode().map_err(|error| error.to_string())?)
            }
            Event::GeneralRef(reference) => text.push_str(&resolve_reference(&reference)?),
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
    }
    Ok(result)
}

/// The text of an entity or character reference: XML's five named entities and `&#…;`.
fn resolve_reference(reference: &quick_xml::events::BytesRef<'_>) -> Result<String, String> {
    if let Some(character) = reference
        .resolve_char_ref()
        .map_err(|error| error.to_string())?
    {
        return Ok(character.to_string());
    }
    let name = reference.decode().map_err(|error| error.to_string())?;
    let resolved = match name.as_ref() {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "apos" => "'",
        "quot" => "\"",
        other => return Err(format!("unknown entity &{other};")),
    };
    Ok(resolved.to_owned())
}

fn store_text(result: &mut ConvertLeadResult, path: &[String], value: String) {
    let names: Vec<&str> = path.iter().map(String::as_str).collect();
    match names.as_slice() {
        [.., "result", "accountId"] => result.account_id = Some(value),
        [.., "result", "contactId"] => result.contact_id = Some(value),
        [.., "result", "leadId"] => result.lead_id = Some(value),
        [.., "result", "opportunityId"] => result.opportunity_id = Some(value),
        [.., "result", "success"] => result.success = Some(value == "true"),
        [.., "result", "errors", field] => {
            if let Some(error) = result.errors.last_mut() {
                match *field {
                    "statusCode" => error.error_code = value,
                    "message" => error.message = value,
                    "fields" => error.fields.push(value),
                    _ => {}
                }
            }
        }
        [.., "Fault", "faultcode"] => result.fault_code = Some(value),
        [.., "Fault", "faultstring"] => result.fault_string = Some(value),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead() -> SalesforceId {
        SalesforceId::parse("00Q5g00000AbCdE").unwrap()
    }

    #[test]
    fn envelope_escapes_values_and_carries_the_session() {
        let convert = LeadConvert {
            lead_id: lead(),
            account_id: None,
            contact_id: None,
            converted_status: "Closed - Converted".into(),
            do_not_create_opportunity: false,
            opportunity_name: Some("<Big> & \"Bold\"".into()),
            owner_id: None,
        };
        let envelope = convert_lead_envelope(&SecretString::from("00D!tok<en>"), &convert);
        assert!(envelope.contains("<urn:sessionId>00D!tok&lt;en&gt;</urn:sessionId>"));
        assert!(envelope.contains("&lt;Big&gt; &amp; &quot;Bold&quot;"));
        assert!(envelope.contains(&format!("<urn:leadId>{}</urn:leadId>", lead())));
        assert!(!envelope.contains("accountId"));
        let owned = LeadConvert {
            owner_id: Some(SalesforceId::parse("005D000000IqhSL").unwrap()),
            ..convert
        };
        let envelope = convert_lead_envelope(&SecretString::from("t"), &owned);
        let order: Vec<usize> = [
            "<urn:convertedStatus>",
            "<urn:leadId>",
            "<urn:opportunityName>",
            "<urn:overwriteLeadSource>",
            "<urn:ownerId>",
            "<urn:sendNotificationEmail>",
        ]
        .iter()
        .map(|element| {
            envelope
                .find(element)
                .unwrap_or_else(|| panic!("{element} missing"))
        })
        .collect();
        assert!(
            order.windows(2).all(|pair| pair[0] < pair[1]),
            "elements out of WSDL order: {envelope}"
        );
    }

    #[test]
    fn entities_and_character_references_in_answers_are_decoded() {
        let failure = br#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com"><soapenv:Body><convertLeadResponse><result><errors><message>invalid convertedStatus: &lt;/urn:convertedStatus&gt;&lt;urn:x&gt; &amp; &#233;&#x20AC;</message><statusCode>INVALID_STATUS</statusCode></errors><success>false</success></result></convertLeadResponse></soapenv:Body></soapenv:Envelope>"#;
        let Err(SalesforceError::Api { errors, .. }) = parse_convert_lead_response(200, failure)
        else {
            panic!("a failure");
        };
        assert_eq!(
            errors[0].message,
            "invalid convertedStatus: </urn:convertedStatus><urn:x> & é€"
        );
        let fault = br#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_STATUS</faultcode><faultstring>INVALID_STATUS: &quot;a&quot; &apos;b&apos;</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;
        let Err(SalesforceError::SoapFault { message, .. }) =
            parse_convert_lead_response(500, fault)
        else {
            panic!("a fault");
        };
        assert_eq!(message, "INVALID_STATUS: \"a\" 'b'");
    }

    #[test]
    fn reads_success_failure_and_fault() {
        let success = br#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><convertLeadResponse><result><accountId>001D000000IqhSLIAZ</accountId><contactId>003D000000IqhSL</contactId><leadId>00Q5g00000AbCdE</leadId><opportunityId xsi:nil="true"/><success>true</success></result></convertLeadResponse></soapenv:Body></soapenv:Envelope>"#;
        let conversion = parse_convert_lead_response(200, success).unwrap();
        assert_eq!(conversion.account_id.as_str(), "001D000000IqhSLIAZ");
        assert_eq!(conversion.opportunity_id, None);

        let failure = br#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><convertLeadResponse><result><accountId/><errors><message>invalid convertedStatus: Nope</message><statusCode>INVALID_STATUS</statusCode></errors><leadId>00Q5g00000AbCdE</leadId><success>false</success></result></convertLeadResponse></soapenv:Body></soapenv:Envelope>"#;
        let error = parse_convert_lead_response(200, failure).unwrap_err();
        assert_eq!(error.error_code(), Some("INVALID_STATUS"));

        let fault = br#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_SESSION_ID</faultcode><faultstring>INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;
        let error = parse_convert_lead_response(500, fault).unwrap_err();
        assert_eq!(error.error_code(), Some("INVALID_SESSION_ID"));
    }
}
