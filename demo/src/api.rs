//! A small HTTP client for the cloud's and the edges' APIs, and the people who use them: an
//! account signed in at the cloud with a password, a staff member signed in at an edge with a
//! PIN. Each signs in when first needed and again when its token is refused, so a long demo
//! outlives any token.

use anyhow::Context;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::Mutex;

/// One service's API.
#[derive(Clone, Debug)]
pub struct Api {
    http: reqwest::Client,
    /// `http://host:port`.
    pub base: String,
}

/// How a request authenticates.
#[derive(Clone, Copy, Debug)]
pub enum Auth<'a> {
    /// Not at all.
    None,
    /// `Authorization: Bearer …`.
    Bearer(&'a str),
    /// `X-Api-Key: …`.
    Key(&'a str),
}

/// An answer: its status and its JSON body (`null` when it had none).
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body.
    pub body: Value,
}

impl Reply {
    /// The body of a 2xx answer, or an error naming `what` with the status and body.
    pub fn ok(self, what: &str) -> anyhow::Result<Value> {
        if self.status.is_success() { Ok(self.body) } else { anyhow::bail!("{what}: {} {}", self.status, self.body) }
    }
}

impl Api {
    /// The API at `base`.
    pub fn new(base: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(20))
            .build()
            .expect("an HTTP client with a timeout");
        Self { http, base: base.into() }
    }

    /// Sends one request; a transport failure is an error, any status an answer.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<Reply> {
        let mut r = self.http.request(method.clone(), format!("{}{path}", self.base));
        r = match auth {
            Auth::None => r,
            Auth::Bearer(t) => r.bearer_auth(t),
            Auth::Key(k) => r.header("x-api-key", k),
        };
        if let Some(k) = idempotency_key {
            r = r.header("idempotency-key", k);
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        let resp = r.send().await.with_context(|| format!("{method} {}{path}", self.base))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        Ok(Reply { status, body: serde_json::from_str(&text).unwrap_or(Value::Null) })
    }

    /// GET.
    pub async fn get(&self, path: &str, auth: Auth<'_>) -> anyhow::Result<Reply> {
        self.call(Method::GET, path, auth, None, None).await
    }

    /// POST with a JSON body.
    pub async fn post(&self, path: &str, auth: Auth<'_>, body: &Value) -> anyhow::Result<Reply> {
        self.call(Method::POST, path, auth, Some(body), None).await
    }
}

/// Someone with an email and password at the cloud (HQ, a driver, a customer).
#[derive(Debug)]
pub struct Account {
    /// Their email.
    pub email: String,
    password: String,
    /// For a customer: the name to register with when the email is not known yet.
    register_as: Option<String>,
    /// (access token, user id) once signed in.
    session: Mutex<Option<(String, String)>>,
}

impl Account {
    /// An account that must exist already.
    pub fn new(email: impl Into<String>, password: impl Into<String>) -> Self {
        Self { email: email.into(), password: password.into(), register_as: None, session: Mutex::new(None) }
    }

    /// A customer who registers as `name` the first time they sign in.
    pub fn customer(email: impl Into<String>, password: impl Into<String>, name: impl Into<String>) -> Self {
        Self { register_as: Some(name.into()), ..Self::new(email, password) }
    }

    /// Signs in (registering a customer who is not known yet); returns (token, user id).
    async fn sign_in(&self, api: &Api) -> anyhow::Result<(String, String)> {
        let creds = json!({ "email": self.email, "password": self.password });
        let mut reply = api.post("/api/v1/auth/login", Auth::None, &creds).await?;
        if reply.status == StatusCode::UNAUTHORIZED
            && let Some(name) = &self.register_as
        {
            let body = json!({ "email": self.email, "password": self.password, "name": name });
            reply = api.post("/api/v1/auth/register", Auth::None, &body).await?;
        }
        let v = reply.ok(&format!("sign-in of {}", self.email))?;
        let token = v["access_token"].as_str().context("an access token")?.to_owned();
        let user = v["user"]["id"].as_str().context("a user id")?.to_owned();
        Ok((token, user))
    }

    /// The session, signing in first if needed: (token, user id).
    pub async fn session(&self, api: &Api) -> anyhow::Result<(String, String)> {
        let mut s = self.session.lock().await;
        if s.is_none() {
            *s = Some(self.sign_in(api).await?);
        }
        Ok(s.clone().expect("signed in above"))
    }

    /// Their user id, signing in first if needed.
    pub async fn user_id(&self, api: &Api) -> anyhow::Result<String> {
        Ok(self.session(api).await?.1)
    }

    /// Sends a request as this person; a refused token (401) signs in again once.
    pub async fn call(
        &self,
        api: &Api,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<Reply> {
        let (token, _) = self.session(api).await?;
        let reply = api.call(method.clone(), path, Auth::Bearer(&token), body, idempotency_key).await?;
        if reply.status != StatusCode::UNAUTHORIZED {
            return Ok(reply);
        }
        *self.session.lock().await = None;
        let (token, _) = self.session(api).await?;
        api.call(method, path, Auth::Bearer(&token), body, idempotency_key).await
    }

    /// GET as this person.
    pub async fn get(&self, api: &Api, path: &str) -> anyhow::Result<Reply> {
        self.call(api, Method::GET, path, None, None).await
    }

    /// POST as this person.
    pub async fn post(&self, api: &Api, path: &str, body: &Value) -> anyhow::Result<Reply> {
        self.call(api, Method::POST, path, Some(body), None).await
    }
}

/// A staff member at an edge, signed in with their PIN.
#[derive(Debug)]
pub struct Staff {
    /// The edge.
    pub api: Api,
    pin: &'static str,
    token: Mutex<Option<String>>,
}

impl Staff {
    /// Staff with `pin` at the edge `api`.
    pub fn new(api: Api, pin: &'static str) -> Self {
        Self { api, pin, token: Mutex::new(None) }
    }

    async fn token(&self) -> anyhow::Result<String> {
        let mut t = self.token.lock().await;
        if t.is_none() {
            let v = self.api.post("/api/v1/sessions", Auth::None, &json!({ "pin": self.pin })).await?;
            let v = v.ok(&format!("PIN sign-in at {}", self.api.base))?;
            *t = Some(v["token"].as_str().context("a session token")?.to_owned());
        }
        Ok(t.clone().expect("signed in above"))
    }

    /// Sends a request in this staff member's session; an ended session (401) signs in again once.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<Reply> {
        let token = self.token().await?;
        let reply = self.api.call(method.clone(), path, Auth::Bearer(&token), body, idempotency_key).await?;
        if reply.status != StatusCode::UNAUTHORIZED {
            return Ok(reply);
        }
        *self.token.lock().await = None;
        let token = self.token().await?;
        self.api.call(method, path, Auth::Bearer(&token), body, idempotency_key).await
    }

    /// GET in this session.
    pub async fn get(&self, path: &str) -> anyhow::Result<Reply> {
        self.call(Method::GET, path, None, None).await
    }

    /// POST in this session.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Reply> {
        self.call(Method::POST, path, Some(body), None).await
    }
}
