//! The protobuf codec of every RPC of the public API: prost's, except that a request that does not
//! decode is the caller's error. gRPC's convention makes a parse error INTERNAL, which here would
//! say "a bug of the gateway"; sfgate answers INVALID_ARGUMENT naming the field that failed
//! (`fields.a.kind…` for a `Struct` nested past prost's recursion limit, a string that is not
//! UTF-8), with a bounded path and message.

use std::marker::PhantomData;

use prost::Message;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::ProstEncoder;

use crate::error::GatewayError;

/// The most levels of a field path a decode error names; deeper ones end in `…`.
const MAX_PATH_LEVELS: usize = 6;
/// How deep prost decodes nested messages (its `RECURSION_LIMIT`, not exported).
const PROST_RECURSION_LIMIT: u32 = 100;

/// The codec `build.rs` gives every generated service and client.
#[derive(Debug, Clone)]
pub(crate) struct ApiCodec<T, U> {
    messages: PhantomData<(T, U)>,
}

impl<T, U> Default for ApiCodec<T, U> {
    fn default() -> Self {
        Self {
            messages: PhantomData,
        }
    }
}

impl<T, U> Codec for ApiCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ApiDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        ApiDecoder {
            message: PhantomData,
        }
    }
}

/// Decodes `U`; a failure is INVALID_ARGUMENT.
#[derive(Debug, Clone)]
pub(crate) struct ApiDecoder<U> {
    message: PhantomData<U>,
}

impl<U: Message + Default> Decoder for ApiDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        U::decode(buf)
            .map(Some)
            .map_err(|error| Status::from(undecodable(&error)))
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

/// The field a decode error names, outermost first (`lead.first_name`), and what went wrong.
pub(crate) fn undecodable(error: &prost::DecodeError) -> GatewayError {
    // prost writes `failed to decode Protobuf message: Inner.field: Outer.field: description`.
    let text = error.to_string();
    let text = text
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(&text);
    let parts: Vec<&str> = text.split(": ").collect();
    let path_parts = parts
        .iter()
        .take_while(|part| is_message_field(part))
        .count();
    let description = match parts[path_parts..].join(": ") {
        rest if rest.is_empty() => "malformed message".to_owned(),
        rest => rest,
    };
    let fields: Vec<&str> = parts[..path_parts]
        .iter()
        .rev()
        .map(|part| part.rsplit('.').next().unwrap_or(part))
        .collect();
    let mut path = fields
        .iter()
        .take(MAX_PATH_LEVELS)
        .copied()
        .collect::<Vec<_>>()
        .join(".");
    if fields.len() > MAX_PATH_LEVELS {
        path.push_str(".…");
    }
    let description = match description.as_str() {
        "recursion limit reached" => format!(
            "is nested too deeply to decode ({} levels of messages and Struct values at most)",
            PROST_RECURSION_LIMIT
        ),
        other => format!("could not be decoded: {other}"),
    };
    GatewayError::invalid_field(path, description)
}

/// Whether a part of prost's error is a `Message.field` step of the path.
fn is_message_field(part: &str) -> bool {
    let identifier = |name: &str| {
        name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    part.split_once('.')
        .is_some_and(|(message, field)| identifier(message) && identifier(field))
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::pb::CreateLeadRequest;

    fn violation(bytes: &[u8]) -> (String, String) {
        let error = CreateLeadRequest::decode(bytes).unwrap_err();
        let GatewayError::InvalidArgument { violations } = undecodable(&error) else {
            panic!("not INVALID_ARGUMENT");
        };
        (
            violations[0].field.clone(),
            violations[0].description.clone(),
        )
    }

    #[test]
    fn a_bad_string_names_its_field_outermost_first() {
        // CreateLeadRequest.lead (1) { Lead.first_name (3) = 0xff }
        let (field, description) = violation(&[0x0a, 0x03, 0x1a, 0x01, 0xff]);
        assert_eq!(field, "lead.first_name");
        assert!(description.contains("UTF-8"), "{description}");
    }

    #[test]
    fn a_truncated_message_is_described() {
        let (_, description) = violation(&[0x0a, 0x05, 0x1a]);
        assert!(
            description.starts_with("could not be decoded"),
            "{description}"
        );
    }
}
