//! What the API server, etcd and the container runtime would refuse later, refused at
//! validation with INVALID_ARGUMENT: an image reference outside the reference grammar, pod
//! annotations over the API server's 256 KiB, and objects too large to store. Pure.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::error::DriverError;
use crate::proto::DriverSandboxSpec;

/// The API server's limit on the total size of an object's annotations (keys plus values).
pub const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;
/// The driver's limit on one encoded object. etcd refuses requests over 1.5 MiB by default
/// (`--max-request-bytes`), and the stored Sandbox grows by the controller's status and the
/// managed fields; 1 MiB is also the API server's limit on a Secret's data.
pub const MAX_OBJECT_BYTES: usize = 1024 * 1024;

/// The image reference grammar (distribution/reference), which is what containerd parses;
/// a reference it refuses would leave the pod in InvalidImageName forever.
pub fn validate_image(field: &str, image: &str) -> Result<(), DriverError> {
    match oci_spec::distribution::Reference::try_from(image) {
        Ok(_) => Ok(()),
        Err(e) => Err(DriverError::invalid(format!(
            "{field} {image:?} is not a valid image reference: {e}"
        ))),
    }
}

/// Total annotations (keys plus values) within the API server's 256 KiB.
pub fn check_annotations_size(field: &str, annotations: &BTreeMap<String, String>) -> Result<(), DriverError> {
    let total: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total <= MAX_ANNOTATIONS_BYTES {
        return Ok(());
    }
    let mut largest: Vec<(String, usize)> = annotations
        .iter()
        .map(|(k, v)| (format!("{field}[{k}]"), k.len() + v.len()))
        .collect();
    Err(DriverError::invalid(format!(
        "{field} total {total} bytes, over the API server's limit of {MAX_ANNOTATIONS_BYTES} bytes (256 KiB); largest: {}",
        describe_largest(&mut largest)
    )))
}

/// `object` (the Sandbox, the token Secret) encoded within [`MAX_OBJECT_BYTES`]; an error names
/// the request's largest fields, which are what made it large.
pub fn check_encoded_size<T: Serialize>(what: &str, object: &T, spec: &DriverSandboxSpec) -> Result<(), DriverError> {
    let size = serde_json::to_vec(object)
        .map_err(|e| DriverError::Internal(format!("encoding the {what}: {e}")))?
        .len();
    if size <= MAX_OBJECT_BYTES {
        return Ok(());
    }
    Err(DriverError::invalid(format!(
        "the {what} would be {size} bytes encoded, over the limit of {MAX_OBJECT_BYTES} bytes (1 MiB) that the API server \
         and etcd can store; largest request fields: {}",
        describe_largest(&mut request_field_sizes(spec))
    )))
}

/// The sizes of the request fields that end up in the stored objects.
fn request_field_sizes(spec: &DriverSandboxSpec) -> Vec<(String, usize)> {
    let map = |field: &str, m: &HashMap<String, String>| -> Vec<(String, usize)> {
        m.iter()
            .map(|(k, v)| (format!("{field}[{k}]"), k.len() + v.len()))
            .collect()
    };
    let mut sizes = map("spec.environment", &spec.environment);
    sizes.push(("spec.command".into(), spec.command.iter().map(String::len).sum()));
    sizes.push(("spec.sandbox_token".into(), spec.sandbox_token.len()));
    if let Some(t) = &spec.template {
        sizes.extend(map("spec.template.environment", &t.environment));
        sizes.extend(map("spec.template.labels", &t.labels));
        let block = |s: &Option<pbjson_types::Struct>| {
            s.as_ref()
                .map_or(0, |s| crate::proto::json::struct_to_json(s).to_string().len())
        };
        sizes.push(("spec.template.platform_config".into(), block(&t.platform_config)));
        sizes.push(("spec.template.driver_config".into(), block(&t.driver_config)));
        sizes.push(("spec.template.image".into(), t.image.len()));
    }
    sizes
}

/// The three largest, as `field (N bytes)`.
fn describe_largest(sizes: &mut [(String, usize)]) -> String {
    sizes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    sizes
        .iter()
        .filter(|(_, n)| *n > 0)
        .take(3)
        .map(|(f, n)| format!("{f} ({n} bytes)"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
