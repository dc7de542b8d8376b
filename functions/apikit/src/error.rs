//! [`ApiError`]: every way a request is refused or fails, mapped to its problem response
//! in one place, so routers return `Result<_, ApiError>` and write no responses of their
//! own for failures.

use crate::problem::{self, Problem};
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use leadrelay::ingest::{self, IngestError};
use leadrelay::intake::FieldError;
use leadrelay::store::StoreError;

/// A request refused (a problem for the caller) or failed on our side (a 500 whose
/// detail goes to the log only).
#[derive(Debug)]
pub enum ApiError {
    /// A problem for the caller, with the seconds of a `Retry-After` header if a retry
    /// will likely succeed.
    Problem {
        /// The body (boxed: a result's error stays small).
        problem: Box<Problem>,
        /// `Retry-After`, in seconds.
        retry_after: Option<u64>,
    },
    /// Storage, the queue or the vault failed: the error's chain of causes, logged when
    /// the response is made; the caller sees no detail.
    Internal(String),
}

impl ApiError {
    /// A problem as it is.
    pub fn problem(problem: Problem) -> Self {
        ApiError::Problem {
            problem: Box::new(problem),
            retry_after: None,
        }
    }

    /// 404 for a route or resource that does not exist (or belongs to someone else).
    pub fn not_found(what: &str) -> Self {
        Self::problem(Problem::new(
            404,
            "not_found",
            "Not found",
            format!("{what} does not exist"),
        ))
    }

    /// 405 for a known path with another method.
    pub fn method_not_allowed() -> Self {
        Self::problem(Problem::new(
            405,
            "method_not_allowed",
            "Method not allowed",
            "this path does not take that method",
        ))
    }

    /// 401: no key, or not a valid account key.
    pub fn unauthorized() -> Self {
        Self::problem(Problem::new(
            401,
            "unauthorized",
            "Unauthorized",
            "send 'Authorization: Bearer <account key>'",
        ))
    }

    /// 403: the key may not do this; `detail` says why.
    pub fn forbidden(code: &str, detail: impl Into<String>) -> Self {
        Self::problem(Problem::new(403, code, "Forbidden", detail))
    }

    /// 403 naming the role the route needs.
    pub fn refused(refusal: leadrelay::access::Refusal) -> Self {
        let mut p = Problem::new(403, "forbidden", "Forbidden", refusal.detail);
        p.required_role = Some(refusal.needed.to_owned());
        Self::problem(p)
    }

    /// 422: invalid input, every field named.
    pub fn invalid(errors: Vec<FieldError>) -> Self {
        Self::problem(Problem::invalid(errors))
    }

    /// 409 with a stable `code`, a `title` and what to do.
    pub fn conflict(code: &str, title: &str, detail: impl Into<String>) -> Self {
        Self::problem(Problem::new(409, code, title, detail))
    }

    /// 503 with `Retry-After: retry_after_s`: a dependency is briefly unavailable and a
    /// retry will likely succeed.
    pub fn unavailable(code: &str, detail: impl Into<String>, retry_after_s: u64) -> Self {
        Self::problem(Problem::new(503, code, "Try again", detail)).retry_after(retry_after_s)
    }

    /// 413: the body is over the limit.
    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::problem(Problem::new(413, "too_large", "Body too large", detail))
    }

    /// 500 for a failure on our side: the error and its causes go to the log when the
    /// response is made, no detail to the caller.
    pub fn internal(error: &dyn std::error::Error) -> Self {
        let mut chain = error.to_string();
        let mut source = error.source();
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        ApiError::Internal(chain)
    }

    /// The same, with a `Retry-After` header of `seconds`.
    #[must_use]
    pub fn retry_after(self, seconds: u64) -> Self {
        match self {
            ApiError::Problem { problem, .. } => ApiError::Problem {
                problem,
                retry_after: Some(seconds),
            },
            internal @ ApiError::Internal(_) => internal,
        }
    }

    /// The HTTP status it answers with.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Problem { problem, .. } => problem.status,
            ApiError::Internal(_) => 500,
        }
    }

    /// The problem response (`401` with `WWW-Authenticate: Bearer`).
    pub fn into_response(self) -> Response<Body> {
        let (problem, retry_after) = match self {
            ApiError::Problem {
                problem,
                retry_after,
            } => (problem, retry_after),
            ApiError::Internal(chain) => {
                tracing::error!(error = %chain, "request failed");
                (Box::new(Problem::internal()), None)
            }
        };
        let mut builder = Response::builder()
            .status(
                StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            )
            .header(header::CONTENT_TYPE, problem::CONTENT_TYPE);
        if problem.status == 401 {
            builder = builder.header(header::WWW_AUTHENTICATE, "Bearer");
        }
        if let Some(v) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            builder = builder.header(header::RETRY_AFTER, v);
        }
        builder
            .body(Body::Text(problem.to_json()))
            .expect("a response from a valid status and header")
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(&e)
    }
}

#[cfg(feature = "manage")]
impl From<leadrelay::manage::ManageError> for ApiError {
    fn from(e: leadrelay::manage::ManageError) -> Self {
        use leadrelay::manage::ManageError;
        match e {
            ManageError::NotFound(what) => ApiError::not_found(what),
            ManageError::Invalid(errors) => ApiError::invalid(errors),
            ManageError::Store(e) => ApiError::internal(&e),
            ManageError::Vault(e) => ApiError::internal(&e),
            ManageError::Resume(e) => ApiError::internal(&e),
            ManageError::Conflict(detail) => {
                ApiError::conflict("version_conflict", "Conflict", detail)
            }
            ManageError::Forbidden(detail) => ApiError::forbidden("exceeds_own_rights", detail),
        }
    }
}

impl From<&IngestError> for ApiError {
    /// Each way ingest can refuse; a throttled or unavailable store is a 503 the
    /// caller's retry will very likely get past.
    fn from(e: &IngestError) -> Self {
        let p = match e {
            IngestError::Unauthorized => {
                Problem::new(401, "unauthorized", "Unauthorized", e.to_string())
            }
            IngestError::WrongCampaign => {
                Problem::new(403, "wrong_campaign", "Forbidden", e.to_string())
            }
            IngestError::CampaignNotFound(_) => {
                Problem::new(404, "not_found", "Not found", e.to_string())
            }
            IngestError::TooLarge(_) => {
                Problem::new(413, "too_large", "Body too large", e.to_string())
            }
            IngestError::UnsupportedMediaType(_) => Problem::new(
                415,
                "unsupported_media_type",
                "Unsupported media type",
                e.to_string(),
            ),
            IngestError::Invalid(errors) => Problem::invalid(errors.clone()),
            IngestError::KeyReused(_) => {
                let mut p = Problem::new(
                    422,
                    "idempotency_key_reused",
                    "Idempotency-Key reused",
                    e.to_string(),
                );
                p.errors.push(FieldError {
                    field: "Idempotency-Key".into(),
                    code: "reused".into(),
                    message: e.to_string(),
                });
                p
            }
            IngestError::BadKey => {
                let mut p = Problem::new(
                    400,
                    "invalid_idempotency_key",
                    "Invalid Idempotency-Key",
                    e.to_string(),
                );
                p.errors.push(FieldError {
                    field: "Idempotency-Key".into(),
                    code: "invalid".into(),
                    message: e.to_string(),
                });
                p
            }
            IngestError::InProgress(_) => {
                Problem::new(409, "in_progress", "In progress", e.to_string())
            }
            IngestError::Loop => Problem::new(508, "loop_detected", "Loop detected", e.to_string()),
            IngestError::QueueUnavailable(_) => {
                Problem::new(503, "queue_unavailable", "Try again", e.to_string())
            }
            IngestError::Store(source) if source.is_retryable() => {
                // Throttled or briefly unavailable: the client's retry will very likely
                // succeed, so say so (503 + Retry-After) instead of reporting a crash.
                let cause = std::error::Error::source(source).map(ToString::to_string);
                tracing::warn!(error = %source, cause = cause.as_deref().unwrap_or(""), "storage throttled or unavailable; told the caller to retry");
                Problem::new(
                    503,
                    "storage_unavailable",
                    "Try again",
                    format!("storage is busy right now; nothing was acknowledged, retry in {} s (with the same Idempotency-Key, if you sent one)", ingest::RETRY_AFTER_S),
                )
            }
            IngestError::Store(source) => return ApiError::internal(source),
        };
        let retry_after = match e {
            IngestError::QueueUnavailable(s) => Some(*s),
            IngestError::Store(_) => Some(ingest::RETRY_AFTER_S),
            IngestError::InProgress(_) => Some(1),
            _ => None,
        };
        ApiError::Problem {
            problem: Box::new(p),
            retry_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(r.body().as_ref()).unwrap()
    }

    #[test]
    fn a_refusal_is_a_problem_with_its_status_code_and_headers() {
        let r = ApiError::not_found("this campaign").into_response();
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        assert_eq!(body(&r)["detail"], "this campaign does not exist");
        assert!(r.headers().get("retry-after").is_none());

        let r = ApiError::unauthorized().into_response();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["www-authenticate"], "Bearer");

        let r = ApiError::unavailable("queue_unavailable", "retry", 2).into_response();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "2");
        assert_eq!(body(&r)["code"], "queue_unavailable");
        assert_eq!(body(&r)["title"], "Try again");

        let r = ApiError::conflict("own_key", "Conflict", "no").into_response();
        assert_eq!(
            (r.status().as_u16(), body(&r)["code"].clone()),
            (409, "own_key".into())
        );
    }

    #[test]
    fn a_failure_on_our_side_shows_no_detail() {
        let e = std::io::Error::other("table t is on fire");
        let err = ApiError::internal(&e);
        assert!(matches!(&err, ApiError::Internal(chain) if chain.contains("on fire")));
        assert_eq!(err.status(), 500);
        let r = err.into_response();
        assert_eq!(r.status(), 500);
        assert_eq!(body(&r)["code"], "internal");
        assert!(!String::from_utf8_lossy(r.body().as_ref()).contains("fire"));
        assert!(ApiError::internal(&e)
            .retry_after(3)
            .into_response()
            .headers()
            .get("retry-after")
            .is_none());
    }

    #[test]
    fn invalid_input_names_each_field() {
        let r = ApiError::invalid(vec![FieldError {
            field: "name".into(),
            code: "required".into(),
            message: "give a name".into(),
        }])
        .into_response();
        assert_eq!(r.status(), 422);
        assert_eq!(body(&r)["errors"][0]["field"], "name");
        assert_eq!(body(&r)["code"], "invalid_field");
    }
}
