//! The wire format: one protobuf (proto2) [`Frame`] per binary WebSocket message, as declared in
//! `vc-api/proto/pbbp2.proto`, with the header names and frame kinds the protocol uses.
//!
//! The types are written by hand with `prost`'s derive (no build script, no `protoc`); the
//! tests check them against the `.proto` and against bytes made by Python's `protobuf` package.
//! The four numeric fields are `required`: prost encodes them even when they are 0, as the
//! server's decoder expects (a ping has `SeqID` 0, `LogID` 0 and `method` 0).

use prost::Message;

/// `method` of a control frame (ping, pong).
pub const METHOD_CONTROL: i32 = 0;
/// `method` of a data frame (event, card).
pub const METHOD_DATA: i32 = 1;

/// Header naming the kind of frame: `ping`, `pong`, `event` or `card`.
pub const HEADER_TYPE: &str = "type";
/// Header of a data frame: the id shared by the parts of one message.
pub const HEADER_MESSAGE_ID: &str = "message_id";
/// Header of a data frame: the number of parts of its message (1 when not split).
pub const HEADER_SUM: &str = "sum";
/// Header of a data frame: the 0-based index of this part.
pub const HEADER_SEQ: &str = "seq";
/// Header of a data frame: the platform's trace id.
pub const HEADER_TRACE_ID: &str = "trace_id";
/// Header the client adds to an acknowledgement: how long handling took, in milliseconds.
pub const HEADER_BIZ_RT: &str = "biz_rt";

/// One key/value header of a [`Frame`].
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Header {
    /// The header's name.
    #[prost(string, required, tag = "1")]
    pub key: String,
    /// The header's value.
    #[prost(string, required, tag = "2")]
    pub value: String,
}

/// One WebSocket message of the long connection.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Frame {
    /// `SeqID`.
    #[prost(uint64, required, tag = "1")]
    pub seq_id: u64,
    /// `LogID`.
    #[prost(uint64, required, tag = "2")]
    pub log_id: u64,
    /// `service`: the URL's `service_id` on a ping.
    #[prost(int32, required, tag = "3")]
    pub service: i32,
    /// `method`: [`METHOD_CONTROL`] or [`METHOD_DATA`].
    #[prost(int32, required, tag = "4")]
    pub method: i32,
    /// `headers`, in order.
    #[prost(message, repeated, tag = "5")]
    pub headers: Vec<Header>,
    /// `payload_encoding`.
    #[prost(string, optional, tag = "6")]
    pub payload_encoding: Option<String>,
    /// `payload_type`.
    #[prost(string, optional, tag = "7")]
    pub payload_type: Option<String>,
    /// `payload`: the (part of the) v2 event JSON, a ClientConfig on a pong, the answer on an
    /// acknowledgement.
    #[prost(bytes = "vec", optional, tag = "8")]
    pub payload: Option<Vec<u8>>,
    /// `LogIDNew`.
    #[prost(string, optional, tag = "9")]
    pub log_id_new: Option<String>,
}

impl Frame {
    /// The ping a client sends every `PingInterval`: a control frame for `service` with the
    /// header `type: ping`.
    pub fn ping(service: i32) -> Frame {
        Frame { service, method: METHOD_CONTROL, headers: vec![header(HEADER_TYPE, "ping")], ..Frame::default() }
    }

    /// The value of the first header named `key`.
    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers.iter().find(|h| h.key == key).map(|h| h.value.as_str())
    }

    /// The `type` header (`ping`, `pong`, `event`, `card`), or `""`.
    pub fn kind(&self) -> &str {
        self.header(HEADER_TYPE).unwrap_or_default()
    }

    /// Appends a header.
    pub fn push_header(&mut self, key: &str, value: impl Into<String>) {
        self.headers.push(header(key, value));
    }

    /// The acknowledgement of this data frame: the same frame with the header `biz_rt`
    /// (handling time in ms) added and the payload `{"code": <code>}`.
    pub fn acknowledgement(&self, code: u16, biz_rt_ms: u64) -> Frame {
        let mut ack = self.clone();
        ack.headers.retain(|h| h.key != HEADER_BIZ_RT);
        ack.push_header(HEADER_BIZ_RT, biz_rt_ms.to_string());
        ack.payload = Some(format!(r#"{{"code":{code}}}"#).into_bytes());
        ack
    }

    /// The protobuf bytes of this frame.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode_to_vec()
    }

    /// Decodes one frame; malformed bytes are an error (a missing number decodes as 0).
    pub fn from_bytes(bytes: &[u8]) -> Result<Frame, prost::DecodeError> {
        Frame::decode(bytes)
    }
}

fn header(key: &str, value: impl Into<String>) -> Header {
    Header { key: key.to_owned(), value: value.into() }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The `.proto` the types are written from.
    const PROTO: &str = include_str!("../../proto/pbbp2.proto");
    /// Frames encoded by Python's `protobuf` package (`tools/pbbp2/make_vectors.py`).
    const VECTORS: &str = include_str!("../../proto/pbbp2_vectors.json");

    /// (message, label, wire type, tag) of every field the `.proto` declares.
    fn proto_fields() -> BTreeSet<(String, String, u32, u32)> {
        let mut fields = BTreeSet::new();
        let mut message = String::new();
        for line in PROTO.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("message ") {
                message = rest.trim_end_matches(['{', ' ']).to_owned();
                continue;
            }
            let words: Vec<&str> = line.trim_end_matches(';').split_whitespace().collect();
            if let [label @ ("required" | "optional" | "repeated"), kind, _name, "=", tag] = words[..] {
                let wire = match kind {
                    "uint64" | "int32" => 0,
                    _ => 2,
                };
                fields.insert((message.clone(), label.to_owned(), wire, tag.parse().unwrap()));
            }
        }
        fields
    }

    /// (tag, wire type) of every top-level field in `bytes`, in order.
    fn wire_fields(mut bytes: &[u8]) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let key = prost::encoding::decode_varint(&mut bytes).unwrap();
            let (tag, wire) = ((key >> 3) as u32, (key & 7) as u32);
            match wire {
                0 => {
                    prost::encoding::decode_varint(&mut bytes).unwrap();
                }
                2 => {
                    let len = prost::encoding::decode_varint(&mut bytes).unwrap() as usize;
                    bytes = &bytes[len..];
                }
                other => panic!("unexpected wire type {other}"),
            }
            out.push((tag, wire));
        }
        out
    }

    fn declared(message: &str, labels: &[&str]) -> BTreeSet<(u32, u32)> {
        proto_fields()
            .into_iter()
            .filter(|(m, label, _, _)| m == message && labels.contains(&label.as_str()))
            .map(|(_, _, wire, tag)| (tag, wire))
            .collect()
    }

    #[test]
    fn frame_types_agree_with_the_proto() {
        assert_eq!(proto_fields().len(), 11, "the .proto declares 2 + 9 fields");
        // A default value encodes exactly the required fields, with the declared wire types.
        let empty: BTreeSet<_> = wire_fields(&Frame::default().to_bytes()).into_iter().collect();
        assert_eq!(empty, declared("Frame", &["required"]));
        let empty_header: BTreeSet<_> = wire_fields(&Header::default().encode_to_vec()).into_iter().collect();
        assert_eq!(empty_header, declared("Header", &["required"]));
        // A value with every field set encodes every declared field.
        let mut full = Frame {
            seq_id: 1,
            log_id: 2,
            service: 3,
            method: 4,
            payload_encoding: Some("e".into()),
            payload_type: Some("t".into()),
            payload: Some(b"p".to_vec()),
            log_id_new: Some("n".into()),
            ..Frame::default()
        };
        full.push_header("k", "v");
        let all: BTreeSet<_> = wire_fields(&full.to_bytes()).into_iter().collect();
        assert_eq!(all, declared("Frame", &["required", "optional", "repeated"]));
    }

    #[test]
    fn encoding_matches_python_protobuf() {
        let vectors: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
        let vectors = vectors.as_array().unwrap();
        assert_eq!(vectors.len(), 4);
        for vector in vectors {
            let (name, f) = (vector["name"].as_str().unwrap(), &vector["frame"]);
            let text = |key: &str| f.get(key).map(|v| v.as_str().unwrap().to_owned());
            let frame = Frame {
                seq_id: f["SeqID"].as_u64().unwrap(),
                log_id: f["LogID"].as_u64().unwrap(),
                service: i32::try_from(f["service"].as_i64().unwrap()).unwrap(),
                method: i32::try_from(f["method"].as_i64().unwrap()).unwrap(),
                headers: f["headers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| header(h[0].as_str().unwrap(), h[1].as_str().unwrap()))
                    .collect(),
                payload_encoding: text("payload_encoding"),
                payload_type: text("payload_type"),
                payload: text("payload").map(String::into_bytes),
                log_id_new: text("LogIDNew"),
            };
            let expected = vector["hex"].as_str().unwrap();
            let hex: String = frame.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(hex, expected, "vector {name}");
            let bytes: Vec<u8> =
                (0..expected.len()).step_by(2).map(|i| u8::from_str_radix(&expected[i..i + 2], 16).unwrap()).collect();
            assert_eq!(Frame::from_bytes(&bytes).unwrap(), frame, "vector {name} decodes back");
        }
        // The ping this module makes is the Python one byte for byte.
        let ping = &vectors[0];
        assert_eq!(ping["name"], "ping");
        let hex: String = Frame::ping(7).to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, ping["hex"].as_str().unwrap());
    }

    #[test]
    fn malformed_bytes_are_an_error() {
        assert!(Frame::from_bytes(&[0xff]).is_err());
        // Field 5 (headers) announcing 10 bytes with 1 left.
        assert!(Frame::from_bytes(&[0x2a, 0x0a, 0x00]).is_err());
    }

    #[test]
    fn acknowledgement_adds_biz_rt_and_the_code() {
        let mut frame = Frame { seq_id: 9, method: METHOD_DATA, payload: Some(b"{}".to_vec()), ..Frame::default() };
        frame.push_header(HEADER_TYPE, "event");
        let ack = frame.acknowledgement(500, 12);
        assert_eq!(ack.seq_id, 9);
        assert_eq!(ack.kind(), "event");
        assert_eq!(ack.header(HEADER_BIZ_RT), Some("12"));
        assert_eq!(ack.payload.as_deref(), Some(&br#"{"code":500}"#[..]));
    }
}
