//! The demo app's OAuth 2.0 server over real HTTP and a real Postgres: the `oauth2`
//! crate (what Tandem uses) against it, PKCE, state, code replay, refresh rotation and
//! reuse detection, expiry, revocation and scopes.

use crate::demo_app_common::*;
use http::StatusCode;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use sqlx::PgPool;
use std::time::Duration;

fn query_param(location: &str, name: &str) -> Option<String> {
    url::Url::parse(location)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Follows the authorization URL as a user would: GET the page, then submit the form
/// with the same parameters plus credentials and Allow. Returns the redirect Location.
async fn approve(demo: &Demo, auth_url: &url::Url, username: &str) -> String {
    let page = demo.http.get(auth_url.as_str()).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("name=\"username\"") && html.contains("name=\"password\""),
        "{html}"
    );
    assert!(html.contains(">Allow<") && html.contains(">Deny<"));
    assert!(html.contains("crm.read"), "the scopes are shown");
    let mut params: Vec<(String, String)> = auth_url.query_pairs().into_owned().collect();
    params.push(("username".into(), username.into()));
    params.push(("password".into(), "demo".into()));
    params.push(("decision".into(), "allow".into()));
    let res = demo
        .http
        .post(format!("{}/oauth/authorize", demo.url))
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 302);
    res.headers()["location"].to_str().unwrap().to_string()
}

fn oauth_client(
    demo: &Demo,
) -> oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    oauth2::basic::BasicTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
> {
    BasicClient::new(ClientId::new("tandem".into()))
        .set_client_secret(ClientSecret::new("tandem-demo-secret".into()))
        .set_auth_uri(AuthUrl::new(format!("{}/oauth/authorize", demo.url)).unwrap())
        .set_token_uri(TokenUrl::new(format!("{}/oauth/token", demo.url)).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.into()).unwrap())
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn the_oauth2_crate_completes_the_flow_state_is_echoed_and_refresh_works(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    demo.account("acme").await;
    let client = oauth_client(&demo);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("crm.read".into()))
        .add_scope(Scope::new("crm.write".into()))
        .set_pkce_challenge(challenge)
        .url();
    let location = approve(&demo, &auth_url, "acme-admin").await;
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some(csrf.secret().as_str()),
        "state is echoed"
    );
    let code = query_param(&location, "code").expect("a code");

    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&demo.http)
        .await
        .expect("the token exchange succeeds");
    assert_eq!(token.expires_in(), Some(Duration::from_secs(3600)));
    let scopes: Vec<String> = token
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, vec!["crm.read", "crm.write"]);

    let me = demo.get(token.access_token().secret(), "/v1/me").await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["account_name"], "acme");
    assert_eq!(me.body["user"]["username"], "acme-admin");
    assert!(me.body["account_id"].is_string());

    // Refresh with the crate too: a new pair, and the new access token works.
    let refreshed = client
        .exchange_refresh_token(token.refresh_token().unwrap())
        .request_async(&demo.http)
        .await
        .expect("refresh succeeds");
    assert_ne!(
        refreshed.access_token().secret(),
        token.access_token().secret()
    );
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        token.refresh_token().unwrap().secret(),
        "refresh tokens rotate"
    );
    let me = demo.get(refreshed.access_token().secret(), "/v1/me").await;
    assert_eq!(me.status, StatusCode::OK);
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn a_wrong_pkce_verifier_is_refused_and_spends_the_code(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    demo.account("acme").await;
    let client = oauth_client(&demo);
    let (challenge, right) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, _) = client
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .url();
    let code = query_param(&approve(&demo, &auth_url, "acme-admin").await, "code").unwrap();

    let wrong = PkceCodeVerifier::new("x".repeat(64));
    let err = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(wrong)
        .request_async(&demo.http)
        .await
        .expect_err("a wrong verifier must fail");
    match err {
        RequestTokenError::ServerResponse(e) => {
            assert_eq!(e.error().to_string(), "invalid_grant");
            assert!(e.error_description().unwrap().contains("PKCE"));
        }
        other => panic!("expected an OAuth error response, got {other:?}"),
    }
    // The code was single-use: even the right verifier no longer works.
    let again = demo.exchange(&code, right.secret()).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.body["error"], "invalid_grant");
    // And a missing verifier is refused outright.
    let v = verifier();
    let code = demo.code_for("acme", "", &v).await;
    let r = demo
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
        ])
        .await;
    assert_eq!(r.body["error"], "invalid_request");
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn deny_and_bad_requests_go_back_to_the_client_with_its_state(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    demo.account("acme").await;
    let challenge = crate::demo_app_common::verifier();
    let base = [
        ("response_type", "code"),
        ("client_id", "tandem"),
        ("redirect_uri", REDIRECT_URI),
        ("state", "opaque-client-state"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];

    // Deny: no credentials needed.
    let mut deny = base.to_vec();
    deny.push(("decision", "deny"));
    let res = demo.consent(&deny).await;
    assert_eq!(res.status().as_u16(), 302);
    let loc = res.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(query_param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(
        query_param(&loc, "state").as_deref(),
        Some("opaque-client-state")
    );
    assert!(query_param(&loc, "code").is_none());

    // PKCE is mandatory, and only S256.
    for (drop_key, method) in [("code_challenge", "S256"), ("", "plain")] {
        let params: Vec<(String, String)> = base
            .iter()
            .filter(|(k, _)| *k != drop_key)
            .map(|(k, v)| {
                (
                    k.to_string(),
                    if *k == "code_challenge_method" {
                        method.to_string()
                    } else {
                        v.to_string()
                    },
                )
            })
            .collect();
        let url =
            url::Url::parse_with_params(&format!("{}/oauth/authorize", demo.url), &params).unwrap();
        let res = demo.http.get(url).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 302, "{drop_key} {method}");
        let loc = res.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(
            query_param(&loc, "error").as_deref(),
            Some("invalid_request")
        );
        assert_eq!(
            query_param(&loc, "state").as_deref(),
            Some("opaque-client-state")
        );
    }

    // An unknown scope is invalid_scope.
    let mut params = base.to_vec();
    params.push(("scope", "crm.read admin.everything"));
    let url =
        url::Url::parse_with_params(&format!("{}/oauth/authorize", demo.url), &params).unwrap();
    let loc = demo.http.get(url).send().await.unwrap().headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(query_param(&loc, "error").as_deref(), Some("invalid_scope"));

    // An unknown client or a foreign redirect URI is never redirected to.
    for (k, v) in [
        ("client_id", "evil"),
        ("redirect_uri", "https://evil.example.com/cb"),
    ] {
        let params: Vec<(&str, &str)> = base
            .iter()
            .map(|&(bk, bv)| if bk == k { (bk, v) } else { (bk, bv) })
            .collect();
        let url =
            url::Url::parse_with_params(&format!("{}/oauth/authorize", demo.url), &params).unwrap();
        let res = demo.http.get(url).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 400, "{k}");
        assert!(res.headers().get("location").is_none());
    }

    // A wrong password shows the page again with an error, and gives no code.
    let mut wrong = base.to_vec();
    wrong.extend([
        ("username", "acme-admin"),
        ("password", "nope"),
        ("decision", "allow"),
    ]);
    let res = demo.consent(&wrong).await;
    assert_eq!(res.status().as_u16(), 401);
    assert!(res.headers().get("location").is_none());
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Wrong username or password"));
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn a_replayed_code_is_refused_and_revokes_the_tokens_it_gave(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    demo.account("acme").await;
    let v = verifier();
    let code = demo.code_for("acme", "", &v).await;
    let first = demo.exchange(&code, &v).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let access = first.body["access_token"].as_str().unwrap().to_string();
    let refresh = first.body["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(first.headers["cache-control"], "no-store");
    assert_eq!(demo.get(&access, "/v1/me").await.status, StatusCode::OK);

    let replay = demo.exchange(&code, &v).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(replay.body["error"], "invalid_grant");
    assert!(replay.body["error_description"]
        .as_str()
        .unwrap()
        .contains("already used"));

    assert_eq!(
        demo.get(&access, "/v1/me").await.status,
        StatusCode::UNAUTHORIZED,
        "access token revoked"
    );
    let r = demo
        .token_request(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .await;
    assert_eq!(
        r.body["error"], "invalid_grant",
        "refresh token revoked too"
    );
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_grant(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let t1 = demo.tokens("acme", "crm.read").await;
    assert_eq!(t1.scope, "crm.read");

    let r = demo
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &t1.refresh),
        ])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["scope"], "crm.read");
    let a2 = r.body["access_token"].as_str().unwrap().to_string();
    let r2 = r.body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r2, t1.refresh);
    assert_eq!(demo.get(&a2, "/v1/me").await.status, StatusCode::OK);

    // A refresh cannot widen the scope.
    let wider = demo
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r2),
            ("scope", "crm.read crm.write"),
        ])
        .await;
    assert_eq!(wider.body["error"], "invalid_scope");

    // The old refresh token again: reuse detected, the whole grant dies.
    let reuse = demo
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &t1.refresh),
        ])
        .await;
    assert_eq!(reuse.status, StatusCode::BAD_REQUEST);
    assert_eq!(reuse.body["error"], "invalid_grant");
    assert!(reuse.body["error_description"]
        .as_str()
        .unwrap()
        .contains("already used"));
    assert_eq!(
        demo.get(&a2, "/v1/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        demo.get(&t1.access, "/v1/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    let newest = demo
        .token_request(&[("grant_type", "refresh_token"), ("refresh_token", &r2)])
        .await;
    assert_eq!(
        newest.body["error"], "invalid_grant",
        "the newest refresh token is revoked as well"
    );

    // Another grant of the same user is untouched.
    let other = demo.tokens("acme", "").await;
    assert_eq!(
        demo.get(&other.access, "/v1/me").await.status,
        StatusCode::OK
    );
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn an_expired_access_token_is_401_with_www_authenticate(pool: PgPool) {
    let demo = start(&pool, |c| c.token_ttl = Duration::from_secs(1)).await;
    let t = demo.tokens("acme", "").await;
    assert_eq!(demo.get(&t.access, "/v1/me").await.status, StatusCode::OK);
    let expired = eventually(Duration::from_secs(10), "the token to expire", || {
        let demo = &demo;
        let access = t.access.clone();
        async move {
            let r = demo.get(&access, "/v1/me").await;
            (r.status == StatusCode::UNAUTHORIZED).then_some(r)
        }
    })
    .await;
    assert_eq!(expired.body["error"], "invalid_token");
    assert!(expired.body["error_description"]
        .as_str()
        .unwrap()
        .contains("expired"));
    let challenge = expired.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\""),
        "{challenge}"
    );

    // The refresh token still gets a fresh access token.
    let r = demo
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &t.refresh),
        ])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["expires_in"], 1);
    let fresh = r.body["access_token"].as_str().unwrap();
    assert_eq!(demo.get(fresh, "/v1/me").await.status, StatusCode::OK);
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn unknown_missing_and_revoked_tokens_are_401(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let r = demo.get("dat_made_up", "/v1/contacts").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"], "invalid_token");
    assert!(r.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    let none = demo
        .http
        .get(format!("{}/v1/me", demo.url))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status().as_u16(), 401);
    assert!(none.headers().contains_key("www-authenticate"));

    // RFC 7009 revocation: an access token alone…
    let t = demo.tokens("acme", "").await;
    let revoke = |token: String| {
        let demo = &demo;
        async move {
            demo.http
                .post(format!("{}/oauth/revoke", demo.url))
                .basic_auth("tandem", Some("tandem-demo-secret"))
                .form(&[("token", token.as_str())])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(revoke(t.access.clone()).await, 200);
    assert_eq!(
        demo.get(&t.access, "/v1/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = demo
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &t.refresh),
        ])
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "revoking an access token leaves the grant alive"
    );
    let a2 = r.body["access_token"].as_str().unwrap().to_string();
    let r2 = r.body["refresh_token"].as_str().unwrap().to_string();
    // …a refresh token ends the grant.
    assert_eq!(revoke(r2.clone()).await, 200);
    assert_eq!(
        demo.get(&a2, "/v1/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        revoke("unknown".into()).await,
        200,
        "unknown tokens are not an error"
    );
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn clients_authenticate_by_basic_or_body_and_wrong_secrets_fail(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    demo.account("acme").await;
    let v = verifier();
    let code = demo.code_for("acme", "", &v).await;
    let base = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", v.as_str()),
    ];
    let wrong = demo
        .http
        .post(format!("{}/oauth/token", demo.url))
        .basic_auth("tandem", Some("not-the-secret"))
        .form(&base)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(wrong.headers().contains_key("www-authenticate"));
    let body: serde_json::Value = wrong.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    // Credentials in the body work as well (and the code was not spent by the failure).
    let mut form = base.to_vec();
    form.extend([
        ("client_id", "tandem"),
        ("client_secret", "tandem-demo-secret"),
    ]);
    let ok = demo
        .http
        .post(format!("{}/oauth/token", demo.url))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);

    let unsupported = demo.token_request(&[("grant_type", "password")]).await;
    assert_eq!(unsupported.body["error"], "unsupported_grant_type");
}

#[sqlx::test(migrator = "tandem::demo_app::db::MIGRATOR")]
async fn scopes_limit_what_a_token_can_do(pool: PgPool) {
    let demo = start(&pool, |_| {}).await;
    let read_only = demo.tokens("acme", "crm.read").await;
    assert_eq!(
        demo.get(&read_only.access, "/v1/contacts").await.status,
        StatusCode::OK
    );
    let w = demo
        .post(
            &read_only.access,
            "/v1/contacts/batch",
            serde_json::json!({"inputs": [{"properties": {"email": "a@b.co"}}]}),
        )
        .await;
    assert_eq!(w.status, StatusCode::FORBIDDEN);
    assert_eq!(w.body["error"], "insufficient_scope");
    let hooks = demo.get(&read_only.access, "/v1/webhooks").await;
    assert_eq!(hooks.status, StatusCode::FORBIDDEN);
}
