//! One error type for the whole driver, mapped to gRPC codes in exactly one place.

use std::time::Duration;

/// What went wrong, in the terms the gateway acts on. Each variant is one gRPC code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    DeadlineExceeded(String),
    #[error("{0}")]
    Internal(String),
}

impl DriverError {
    pub fn code(&self) -> tonic::Code {
        match self {
            Self::InvalidArgument(_) => tonic::Code::InvalidArgument,
            Self::NotFound(_) => tonic::Code::NotFound,
            Self::AlreadyExists(_) => tonic::Code::AlreadyExists,
            Self::FailedPrecondition(_) => tonic::Code::FailedPrecondition,
            Self::PermissionDenied(_) => tonic::Code::PermissionDenied,
            Self::Unavailable(_) => tonic::Code::Unavailable,
            Self::DeadlineExceeded(_) => tonic::Code::DeadlineExceeded,
            Self::Internal(_) => tonic::Code::Internal,
        }
    }

    /// A bounded label for metrics: never the message, which may carry names.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::InvalidArgument(_) => "invalid_argument",
            Self::NotFound(_) => "not_found",
            Self::AlreadyExists(_) => "already_exists",
            Self::FailedPrecondition(_) => "failed_precondition",
            Self::PermissionDenied(_) => "permission_denied",
            Self::Unavailable(_) => "unavailable",
            Self::DeadlineExceeded(_) => "deadline_exceeded",
            Self::Internal(_) => "internal",
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidArgument(msg.into())
    }

    /// Maps a Kubernetes API failure of `verb` on `resource`. The verb and resource are named
    /// so that a PERMISSION_DENIED tells an operator exactly which RBAC rule is missing.
    pub fn from_kube(err: kube::Error, verb: &str, resource: &str) -> Self {
        match err {
            kube::Error::Api(status) => {
                let msg = status.message.clone();
                match status.code {
                    404 => Self::NotFound(msg),
                    409 => Self::AlreadyExists(msg),
                    403 => Self::PermissionDenied(format!(
                        "the driver's Kubernetes identity may not {verb} {resource}: {msg}"
                    )),
                    401 => Self::PermissionDenied(format!(
                        "the Kubernetes API server rejected the driver's credentials: {msg}"
                    )),
                    400 | 422 => Self::InvalidArgument(format!("{resource} rejected by the API server: {msg}")),
                    _ => Self::Unavailable(format!(
                        "Kubernetes API {verb} {resource} failed ({}): {msg}",
                        status.code
                    )),
                }
            }
            kube::Error::SerdeError(e) => Self::Internal(format!("decoding the {resource} {verb} response: {e}")),
            other => Self::Unavailable(format!("Kubernetes API {verb} {resource} failed: {other}")),
        }
    }

    pub fn timed_out(verb: &str, resource: &str, after: Duration) -> Self {
        Self::Unavailable(format!(
            "Kubernetes API {verb} {resource} did not answer within {}s",
            after.as_secs_f32()
        ))
    }
}

impl From<DriverError> for tonic::Status {
    fn from(err: DriverError) -> Self {
        let code = err.code();
        tonic::Status::new(code, err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(Status::failure("boom", "Reason").with_code(code)))
    }

    #[test]
    fn kube_errors_map_to_grpc_codes() {
        let cases = [
            (404, tonic::Code::NotFound),
            (409, tonic::Code::AlreadyExists),
            (403, tonic::Code::PermissionDenied),
            (401, tonic::Code::PermissionDenied),
            (400, tonic::Code::InvalidArgument),
            (422, tonic::Code::InvalidArgument),
            (500, tonic::Code::Unavailable),
            (503, tonic::Code::Unavailable),
            (429, tonic::Code::Unavailable),
        ];
        for (http, want) in cases {
            assert_eq!(
                DriverError::from_kube(api(http), "create", "sandboxes").code(),
                want,
                "http {http}"
            );
        }
    }

    #[test]
    fn forbidden_names_verb_and_resource() {
        let err = DriverError::from_kube(api(403), "patch", "sandboxes.agents.x-k8s.io");
        let msg = err.to_string();
        assert!(
            msg.contains("patch") && msg.contains("sandboxes.agents.x-k8s.io"),
            "{msg}"
        );
    }

    #[test]
    fn timeouts_are_unavailable_and_status_keeps_message() {
        let err = DriverError::timed_out("list", "nodes", Duration::from_secs(3));
        let status: tonic::Status = err.into();
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert!(status.message().contains("list nodes"));
        assert_eq!(DriverError::NotFound("x".into()).metric_label(), "not_found");
    }
}
