//! The one error type of the server. Each variant maps to an HTTP status and
//! an [`ApiError`] body; causes of internal errors are logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sync::protocol::{ApiError, FieldError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("sign in first")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// The record changed since the caller read it, or a uniqueness rule.
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts")]
    RateLimited { retry_after_secs: u64 },
    #[error("request body too large")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    BadRequest(String),
    #[error("cross-site request refused")]
    Csrf,
    #[error("wrong user name or password")]
    BadCredentials,
    /// An answer with its own status and machine code.
    #[error("{message}")]
    Coded {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    /// Rows an action named changed since the caller saw them.
    #[error("the rows changed")]
    RowsChanged(Vec<sync::protocol::WindowRow>),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn field(field: &str, message: impl Into<String>) -> AppError {
        AppError::Validation(vec![FieldError::new(field, message)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthorized | AppError::BadCredentials => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict(_) | AppError::RowsChanged(_) => StatusCode::CONFLICT,
            AppError::Coded { status, .. } => *status,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn body(&self) -> ApiError {
        let (code, message, fields) = match self {
            AppError::Unauthorized => ("unauthorized", "Sign in first.".to_string(), vec![]),
            AppError::BadCredentials => (
                "unauthorized",
                "Wrong user name or password.".to_string(),
                vec![],
            ),
            AppError::Forbidden => (
                "forbidden",
                "Your role does not allow this.".to_string(),
                vec![],
            ),
            AppError::NotFound(what) => ("not_found", format!("No such {what}."), vec![]),
            AppError::Validation(f) => (
                "validation",
                "Some fields need attention.".to_string(),
                f.clone(),
            ),
            AppError::Conflict(m) => ("conflict", m.clone(), vec![]),
            AppError::Coded { code, message, .. } => (*code, message.clone(), vec![]),
            AppError::RowsChanged(_) => (
                "rows_changed",
                "Someone else changed these rows since you saw them; nothing was done. They are shown as they are now."
                    .to_string(),
                vec![],
            ),
            AppError::RateLimited { retry_after_secs } => (
                "rate_limited",
                format!("Too many attempts. Try again in {} minutes.", retry_after_secs.div_ceil(60)),
                vec![],
            ),
            AppError::PayloadTooLarge { limit } => (
                "payload_too_large",
                format!("The request is larger than the limit of {limit} bytes."),
                vec![],
            ),
            AppError::BadRequest(m) => ("bad_request", m.clone(), vec![]),
            AppError::Csrf => (
                "csrf",
                "Cross-site request refused: send it from Partnersync's own pages.".to_string(),
                vec![],
            ),
            AppError::Database(_) | AppError::Internal(_) => (
                "internal",
                "Something went wrong on the server; nothing was changed. The cause is in the server log."
                    .to_string(),
                vec![],
            ),
        };
        ApiError {
            code: code.to_string(),
            message,
            fields,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = ?self, "request failed");
        }
        let mut response = match &self {
            AppError::RowsChanged(rows) => {
                let body = self.body();
                (
                    status,
                    axum::Json(sync::protocol::RowsChanged {
                        code: body.code,
                        message: body.message,
                        rows: rows.clone(),
                    }),
                )
                    .into_response()
            }
            _ => (status, axum::Json(self.body())).into_response(),
        };
        if let AppError::RateLimited { retry_after_secs } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}
