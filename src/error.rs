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
#[path = "error_tests.rs"]
mod tests;
