//! `App::build` brings the database up and binds the listener (port 0 in tests);
//! `App::serve` runs until the shutdown signal, finishing requests in flight.

use std::{future::Future, io, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    extract::{ConnectInfo, DefaultBodyLimit},
    http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, header},
    routing::{get, post},
};
use hyper::{body::Incoming, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto::Builder, graceful::GracefulShutdown},
};
use tokio::net::TcpListener;
use tower::{ServiceBuilder, ServiceExt};
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::{AllowOrigin, CorsLayer},
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{
    auth::{Auth, AuthSetupError},
    config::Config,
    database::{self, DatabaseError},
    graphql,
    metrics::Metrics,
    ratelimit::RateLimiter,
    routes,
    state::{AppState, Inner},
};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Database(#[from] DatabaseError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: io::Error },
    #[error("CORS_ALLOWED_ORIGINS: {0:?} is not a valid origin")]
    Cors(String),
    #[error(transparent)]
    Auth(#[from] AuthSetupError),
    #[error("CLERK_WEBHOOK_SECRET is not a svix secret (whsec_…): {0}")]
    WebhookSecret(String),
}

pub struct App {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl App {
    pub async fn build(config: Config) -> Result<Self, StartError> {
        // Configuration that can be refused without I/O is refused first.
        let auth = Auth::new(&config.identity, config.listen_addr)?;
        let webhook = config
            .webhook_secret
            .as_ref()
            .map(|secret| svix::webhooks::Webhook::new(secret.expose()))
            .transpose()
            .map_err(|e| StartError::WebhookSecret(e.to_string()))?;
        if webhook.is_none() {
            tracing::warn!("CLERK_WEBHOOK_SECRET is not set: Clerk webhooks will be refused");
        }
        let cors = cors(&config.cors_origins)?;
        if config.database.is_postgres() {
            database::check_pooler(&config.database.url()).await?;
        }
        if config.migrate_on_start {
            database::migrate(&config.database.direct_url())
                .await
                .map_err(DatabaseError::from)?;
        }
        let metrics = Arc::new(Metrics::default());
        let db = database::open(&config.database, &config.pool, &metrics)
            .await
            .map_err(DatabaseError::from)?;
        if config.database.is_postgres() {
            match database::read_timeout(&db).await {
                Ok(Some(_)) => {}
                Ok(None) => tracing::warn!(
                    "reads have no statement timeout on the server: a read cut off by \
                     REQUEST_TIMEOUT keeps running there and holds its connection; set one \
                     for the role (ALTER ROLE … SET statement_timeout = '5s')"
                ),
                // Only advice: a server that will not say does not stop the start.
                Err(error) => {
                    tracing::warn!(%error, "could not read the server's statement_timeout")
                }
            }
        }
        if config.seed_demo && service::seed::demo_if_empty(&db).await.map_err(db_error)? {
            tracing::info!("seeded the demo forum");
        }
        let listener = TcpListener::bind(config.listen_addr)
            .await
            .map_err(|source| StartError::Listen {
                addr: config.listen_addr,
                source,
            })?;
        let state = AppState::new(Inner {
            graphql: graphql::Engine::new(&config.limits),
            limiter: RateLimiter::new(config.rate_limit.clone()),
            db,
            metrics,
            auth,
            webhook,
            config,
        });
        let router = router(state.clone(), cors);
        Ok(Self {
            listener,
            router,
            state,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish.
    ///
    /// The connections are hyper's, as `axum::serve` makes them, but with a timer: without
    /// one hyper applies no header-read timeout, and a client that sends a request's head
    /// a byte at a time would hold its connection for ever. The head must arrive within
    /// the request timeout.
    pub async fn serve(
        mut self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.state.config.request_timeout);
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            // axum's `Listener` waits out accept errors (a full file table, say).
            let (stream, peer) = tokio::select! {
                accepted = axum::serve::Listener::accept(&mut self.listener) => accepted,
                () = &mut shutdown => break,
            };
            let router = self.router.clone();
            let service = service_fn(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                router.clone().oneshot(request.map(Body::new))
            });
            let connection = builder
                .serve_connection(TokioIo::new(stream), service)
                .into_owned();
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::trace!(%error, "connection ended with an error");
                }
            });
        }
        drop(self.listener);
        graceful.shutdown().await;
        Ok(())
    }
}

fn db_error(err: service::Error) -> DatabaseError {
    match err {
        service::Error::Db(e) => DatabaseError::Db(e),
        other => DatabaseError::Db(sea_orm::DbErr::Custom(other.to_string())),
    }
}

fn router(state: AppState, cors: CorsLayer) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let body_limit = state.config.max_body_bytes;
    // One stack, outermost first, given to the router in one `layer` call: each call
    // wraps every route in one more boxed service, and axum clones a route's whole chain
    // of boxes for each request (eight allocations and clones per request, CORS's lists
    // among them, before the handler ran).
    let middleware = ServiceBuilder::new()
        .map_request(stamp_arrival)
        .map_request(keep_plain_request_id)
        .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id = %id,
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
        )
        .layer(PropagateRequestIdLayer::new(request_id))
        .layer(cors)
        // A panic anywhere is a 500 with a code, never a trace.
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            routes::graphql::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_SERVER_ERROR",
                "the request failed; it has been logged",
            )
        }))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .map_response(move |response| with_error_body(response, body_limit))
        // A backstop: GraphQL requests time out (with a GraphQL error) before this.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.config.request_timeout + Duration::from_secs(2),
        ))
        // The timeout's 408 needs a body it can make empty: axum's own.
        .map_response(|response: Response<_>| response.map(Body::new))
        // Refuses a declared length over the limit at once, without reading the body.
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(DefaultBodyLimit::max(body_limit));
    Router::new()
        .route(
            "/graphql",
            get(routes::graphql::get).post(routes::graphql::post),
        )
        .route("/graphql/assets/{name}", get(routes::graphiql::asset))
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .route("/metrics", get(routes::health::metrics))
        .route("/webhooks/clerk", post(routes::webhook::clerk))
        .layer(middleware)
        .with_state(state)
}

/// The errors that layers and the router make (the timeout's 408, the body limit's 413,
/// an unknown route's 404 and a wrong method's 405, empty or plain text) in the shape and
/// with the codes of the handlers' own.
fn with_error_body(response: Response<Body>, body_limit: usize) -> Response<Body> {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().ends_with(b"json"));
    match response.status() {
        _ if is_json => response,
        StatusCode::REQUEST_TIMEOUT => routes::graphql::error(
            StatusCode::REQUEST_TIMEOUT,
            "TIMEOUT",
            "the request took too long and was stopped",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => routes::graphql::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BAD_REQUEST",
            &format!("the request body is over {body_limit} bytes"),
        ),
        StatusCode::NOT_FOUND => routes::graphql::error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "nothing is at this address",
        ),
        StatusCode::METHOD_NOT_ALLOWED => {
            let mut error = routes::graphql::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "BAD_REQUEST",
                "the route does not take this method",
            );
            if let Some(allow) = response.headers().get(header::ALLOW) {
                error.headers_mut().insert(header::ALLOW, allow.clone());
            }
            error
        }
        _ => response,
    }
}

/// When a request's head arrived, before any layer ran: the GraphQL handler's deadline
/// counts from it, as the backstop's does, so that its grace for a commit in flight ends
/// before the backstop fires, however long the body took to arrive.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Arrived(pub tokio::time::Instant);

fn stamp_arrival<B>(mut request: Request<B>) -> Request<B> {
    request
        .extensions_mut()
        .insert(Arrived(tokio::time::Instant::now()));
    request
}

/// A client's `x-request-id` is kept (a proxy's id then follows the request through) only
/// when it is plain: 1–64 letters, digits, `-`, `_` or `.`. Any other is dropped and a
/// fresh one made, so that no client writes fields or lines into the log.
fn keep_plain_request_id<B>(mut request: Request<B>) -> Request<B> {
    let plain = |v: &HeaderValue| {
        (1..=64).contains(&v.len())
            && v.as_bytes()
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    let ids = request.headers().get_all("x-request-id");
    if ids.iter().count() > 1 || ids.iter().any(|v| !plain(v)) {
        request.headers_mut().remove("x-request-id");
    }
    request
}

fn cors(origins: &[String]) -> Result<CorsLayer, StartError> {
    let origins = origins
        .iter()
        // `*` with credentials is no CORS at all (tower-http panics on it): origins are
        // named one by one.
        .map(|o| match HeaderValue::from_str(o) {
            Ok(value) if o != "*" => Ok(value),
            _ => Err(StartError::Cors(o.clone())),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
        // What a cross-origin client needs to read: when to retry, and the id to report.
        .expose_headers([header::RETRY_AFTER, HeaderName::from_static("x-request-id")])
        .allow_credentials(true)
        .max_age(Duration::from_secs(3600)))
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_named_one_by_one() {
        assert!(cors(&["https://app.example".to_owned()]).is_ok());
        for bad in ["*", "a\nb"] {
            assert!(
                matches!(cors(&[bad.to_owned()]), Err(StartError::Cors(_))),
                "{bad:?}"
            );
        }
    }
}
