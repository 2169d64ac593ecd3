//! A gRPC client for services known only by their descriptors (a schema file's), the way grpcurl
//! calls them: requests and responses as JSON in the proto3 JSON mapping.

use bytes::{Buf as _, BufMut as _};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

/// Calls methods of the services in `pool` over `channel`.
#[derive(Debug, Clone)]
pub struct DynamicClient {
    channel: Channel,
    pool: DescriptorPool,
}

impl DynamicClient {
    /// A client of the services in `pool`.
    pub fn new(channel: Channel, pool: DescriptorPool) -> Self {
        Self { channel, pool }
    }

    /// Calls `service/method` (`acme.v1.FooService/GetFoo`) with the JSON request, as tenant
    /// `tenant` with `key`; the response as JSON (default values included).
    pub async fn call(
        &self,
        method: &str,
        request: serde_json::Value,
        tenant: &str,
        key: &str,
    ) -> Result<serde_json::Value, tonic::Status> {
        let (service, name) = method.split_once('/').expect("service/method");
        let descriptor = self
            .pool
            .get_service_by_name(service)
            .unwrap_or_else(|| panic!("no service {service}"))
            .methods()
            .find(|candidate| candidate.name() == name)
            .unwrap_or_else(|| panic!("no method {method}"));
        let message = DynamicMessage::deserialize(descriptor.input(), request)
            .unwrap_or_else(|error| panic!("request of {method}: {error}"));
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready()
            .await
            .map_err(|error| tonic::Status::unavailable(error.to_string()))?;
        let request = crate::with_metadata(message, tenant, key);
        let path = format!("/{method}").parse().expect("a path");
        let response = grpc
            .unary(
                request,
                path,
                DynamicCodec {
                    output: descriptor.output(),
                },
            )
            .await?;
        let options = prost_reflect::SerializeOptions::new().skip_default_fields(false);
        let mut json = serde_json::Serializer::new(Vec::new());
        response
            .into_inner()
            .serialize_with_options(&mut json, &options)
            .expect("a response serializes");
        Ok(serde_json::from_slice(&json.into_inner()).expect("JSON"))
    }
}

#[derive(Debug, Clone)]
struct DynamicCodec {
    output: MessageDescriptor,
}

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        DynamicDecoder {
            output: self.output.clone(),
        }
    }
}

#[derive(Debug)]
struct DynamicEncoder;

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: DynamicMessage,
        buffer: &mut EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        buffer.put_slice(&item.encode_to_vec());
        Ok(())
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

#[derive(Debug)]
struct DynamicDecoder {
    output: MessageDescriptor,
}

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        buffer: &mut DecodeBuf<'_>,
    ) -> Result<Option<DynamicMessage>, tonic::Status> {
        let bytes = buffer.copy_to_bytes(buffer.remaining());
        DynamicMessage::decode(self.output.clone(), bytes)
            .map(Some)
            .map_err(|error| tonic::Status::internal(error.to_string()))
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}
