//! Helpers for the demo app's integration tests: the real demo-app router served on
//! 127.0.0.1:0 over a real, freshly migrated Postgres database (`#[sqlx::test]` with the
//! demo app's migrator), tokens obtained through the real OAuth flow, and a local
//! webhook receiver.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use rand::distributions::{Alphanumeric, DistString};
use serde_json::Value;
use sqlx::PgPool;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tandem::demo_app::{self, oauth::pkce_challenge, seed, DemoConfig, DemoState};

pub const REDIRECT_URI: &str = "http://127.0.0.1:3000/oauth/callback/demo";
pub const ADMIN_KEY: &str = "demo-admin-key";

pub struct Demo {
    pub url: String,
    pub state: DemoState,
    /// Never follows redirects, so tests see the authorization server's 302s.
    pub http: reqwest::Client,
}

pub struct Tokens {
    pub access: String,
    pub refresh: String,
    pub scope: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

async fn reply(res: reqwest::Response) -> Reply {
    let status = StatusCode::from_u16(res.status().as_u16()).expect("valid status");
    let headers = res.headers().clone();
    let text = res.text().await.unwrap_or_default();
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

/// Serves the demo app for one test; `tweak` adjusts the configuration first.
pub async fn start(pool: &PgPool, tweak: impl FnOnce(&mut DemoConfig)) -> Demo {
    let mut config = DemoConfig::for_tests("unused: the test pool is used");
    tweak(&mut config);
    let state = demo_app::prepare(pool.clone(), config)
        .await
        .expect("demo app starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(axum::serve(listener, demo_app::router(state.clone())).into_future());
    Demo {
        url: format!("http://{addr}"),
        state,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
    }
}

pub fn verifier() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 64)
}

impl Demo {
    /// The account with its admin `<name>-admin` / `demo` and pipelines.
    pub async fn account(&self, name: &str) -> i64 {
        seed::ensure_account(&self.state.pool, name)
            .await
            .expect("account")
            .id
    }

    pub async fn seed(&self, opts: seed::SeedOptions) -> seed::SeedReport {
        seed::seed(&self.state.pool, &opts).await.expect("seed")
    }

    /// Submits the login + consent form as a browser would; returns the 302.
    pub async fn consent(&self, params: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}/oauth/authorize", self.url))
            .form(params)
            .send()
            .await
            .expect("authorize request")
    }

    /// Runs the authorization-code flow with PKCE for `<account>-admin`; returns the code.
    pub async fn code_for(&self, account: &str, scope: &str, verifier: &str) -> String {
        let challenge = pkce_challenge(verifier);
        let user = format!("{account}-admin");
        let res = self
            .consent(&[
                ("response_type", "code"),
                ("client_id", "tandem"),
                ("redirect_uri", REDIRECT_URI),
                ("scope", scope),
                ("state", "st"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("username", &user),
                ("password", "demo"),
                ("decision", "allow"),
            ])
            .await;
        assert_eq!(res.status().as_u16(), 302, "consent must redirect");
        let location = res.headers()["location"]
            .to_str()
            .expect("location")
            .to_string();
        let url = url::Url::parse(&location).expect("absolute redirect");
        url.query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no code in {location}"))
    }

    /// `POST /oauth/token` with HTTP Basic client authentication.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> Reply {
        let res = self
            .http
            .post(format!("{}/oauth/token", self.url))
            .basic_auth("tandem", Some("tandem-demo-secret"))
            .form(form)
            .send()
            .await
            .expect("token request");
        reply(res).await
    }

    pub async fn exchange(&self, code: &str, verifier: &str) -> Reply {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ])
        .await
    }

    /// Tokens for `<account>-admin` (the account is created when missing).
    pub async fn tokens(&self, account: &str, scope: &str) -> Tokens {
        self.account(account).await;
        let v = verifier();
        let code = self.code_for(account, scope, &v).await;
        let r = self.exchange(&code, &v).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        Tokens {
            access: r.body["access_token"]
                .as_str()
                .expect("access_token")
                .into(),
            refresh: r.body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .into(),
            scope: r.body["scope"].as_str().unwrap_or_default().into(),
        }
    }

    pub async fn token(&self, account: &str) -> String {
        self.tokens(account, "").await.access
    }

    pub async fn get(&self, token: &str, path: &str) -> Reply {
        let res = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        reply(res).await
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        reply(req.send().await.expect("request")).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> Reply {
        self.send_json(reqwest::Method::POST, token, path, Some(body))
            .await
    }

    pub async fn delete(&self, token: &str, path: &str) -> Reply {
        self.send_json(reqwest::Method::DELETE, token, path, None)
            .await
    }

    /// `POST /v1/{object}/batch`; panics unless the HTTP status is 200.
    pub async fn batch(&self, token: &str, object: &str, inputs: Value) -> Vec<Value> {
        let r = self
            .post(
                token,
                &format!("/v1/{object}/batch"),
                serde_json::json!({ "inputs": inputs }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body["results"].as_array().expect("results").clone()
    }

    /// Creates one record and returns its id.
    pub async fn create(&self, token: &str, object: &str, properties: Value) -> String {
        let results = self
            .batch(
                token,
                object,
                serde_json::json!([{ "properties": properties }]),
            )
            .await;
        assert_eq!(results[0]["status"], "created", "{}", results[0]);
        results[0]["record"]["id"].as_str().expect("id").to_string()
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header("X-Admin-Key", ADMIN_KEY);
        if let Some(b) = body {
            req = req.json(&b);
        }
        reply(req.send().await.expect("admin request")).await
    }
}

/// Polls `check` until it returns `Some`, or panics after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[derive(Debug, Clone)]
pub struct Received {
    pub signature: String,
    pub delivery: String,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }
}

/// A real HTTP receiver on 127.0.0.1:0 that records what it gets; it answers 500 to
/// the first `fail_first` requests, then 200.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    pub fail_first: Arc<AtomicU32>,
    pub requests: Arc<AtomicU32>,
}

impl Receiver {
    pub async fn start(fail_first: u32) -> Receiver {
        let r = Receiver {
            url: String::new(),
            received: Arc::default(),
            fail_first: Arc::new(AtomicU32::new(fail_first)),
            requests: Arc::default(),
        };
        async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
            let n = r.requests.fetch_add(1, Ordering::SeqCst);
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            r.received.lock().unwrap().push(Received {
                signature: header("x-demo-signature"),
                delivery: header("x-demo-delivery"),
                body,
            });
            if n < r.fail_first.load(Ordering::SeqCst) {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            }
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let r = Receiver {
            url: format!("http://{addr}/hook"),
            ..r
        };
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(r.clone());
        tokio::spawn(axum::serve(listener, app).into_future());
        r
    }

    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until a received body satisfies `pred`; returns every match so far.
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Vec<Received> {
        eventually(Duration::from_secs(15), what, || {
            let found: Vec<Received> = self.all().into_iter().filter(|r| pred(&r.json())).collect();
            async move { (!found.is_empty()).then_some(found) }
        })
        .await
    }
}
