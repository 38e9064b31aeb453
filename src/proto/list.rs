//! `ListSandboxesResponse`, written by hand so that a List can send each sandbox as the bytes it
//! was encoded to when it last changed. On the wire it is the generated message exactly (field 1,
//! `repeated DriverSandbox`): the entries in `encoded` are whole field-1 records (tag, length,
//! message). At 10,000 sandboxes, cloning every snapshot for a List took ~39 ms and encoding
//! them ~8 ms (`make bench`); copying the kept bytes is a memcpy.

use prost::bytes::{Buf, BufMut, Bytes};
use prost::encoding::{DecodeContext, WireType, message, skip_field};
use serde::ser::SerializeStruct;

use super::DriverSandbox;

const SANDBOXES: u32 = 1;

#[derive(Clone, PartialEq, Default)]
pub struct ListSandboxesResponse {
    pub sandboxes: Vec<DriverSandbox>,
    /// Sandboxes already encoded by [`encode_entry`], sent after `sandboxes`. Decoding fills
    /// `sandboxes` only.
    pub encoded: Vec<Bytes>,
}

/// `sandbox` as one field-1 record of a `ListSandboxesResponse`.
pub fn encode_entry(sandbox: &DriverSandbox) -> Bytes {
    let mut buf = Vec::with_capacity(message::encoded_len(SANDBOXES, sandbox));
    message::encode(SANDBOXES, sandbox, &mut buf);
    Bytes::from(buf)
}

impl ListSandboxesResponse {
    /// Every sandbox, the encoded ones decoded (for JSON and for tests).
    pub fn all_sandboxes(&self) -> Result<Vec<DriverSandbox>, prost::DecodeError> {
        let mut all = self.sandboxes.clone();
        for entry in &self.encoded {
            let decoded: ListSandboxesResponse = prost::Message::decode(entry.clone())?;
            all.extend(decoded.sandboxes);
        }
        Ok(all)
    }
}

impl prost::Message for ListSandboxesResponse {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        message::encode_repeated(SANDBOXES, &self.sandboxes, buf);
        for entry in &self.encoded {
            buf.put_slice(entry);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        if tag == SANDBOXES {
            message::merge_repeated(wire_type, &mut self.sandboxes, buf, ctx)
        } else {
            skip_field(wire_type, tag, buf, ctx)
        }
    }

    fn encoded_len(&self) -> usize {
        message::encoded_len_repeated(SANDBOXES, &self.sandboxes) + self.encoded.iter().map(Bytes::len).sum::<usize>()
    }

    fn clear(&mut self) {
        self.sandboxes.clear();
        self.encoded.clear();
    }
}

impl std::fmt::Debug for ListSandboxesResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListSandboxesResponse")
            .field("sandboxes", &self.sandboxes)
            .field("encoded", &self.encoded.len())
            .finish()
    }
}

/// The protobuf JSON mapping: `{"sandboxes": [...]}`.
impl serde::Serialize for ListSandboxesResponse {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let all = self.all_sandboxes().map_err(serde::ser::Error::custom)?;
        let mut out = serializer.serialize_struct("ListSandboxesResponse", 1)?;
        out.serialize_field("sandboxes", &all)?;
        out.end()
    }
}

impl<'de> serde::Deserialize<'de> for ListSandboxesResponse {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Json {
            #[serde(default)]
            sandboxes: Vec<DriverSandbox>,
        }
        let json = Json::deserialize(deserializer)?;
        Ok(Self {
            sandboxes: json.sandboxes,
            encoded: Vec::new(),
        })
    }
}

#[cfg(test)]
#[path = "list_tests.rs"]
mod tests;
