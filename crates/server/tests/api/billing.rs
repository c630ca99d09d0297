//! Billing end to end: checkout through the API against the sandbox's fake of Stripe, its
//! signed webhook deliveries back into the API, and what they change — plan, quota, history —
//! once, in order, all or nothing. Then the verification mail over a real SMTP server.

use std::time::Duration;

use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::RunQueryDsl;
use multivio_domain::Secret;
use multivio_http::auth::mint_emulator_token;
use multivio_sandbox::credentials as sandbox;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{Api, PROJECT, assert_problem};

/// A real SMTP server in a process of its own (`scripts/smtp-sink.py`: aiosmtpd, from the
/// test tools' environment that `scripts/s3-test-server.sh` installs, or Python's standard
/// library where it still has smtpd), which writes each message it accepts to a directory;
/// killed when dropped.
struct SmtpSink {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

/// A message the sink accepted.
struct Received {
    mail_from: String,
    rcpt_to: Vec<String>,
    data: Vec<u8>,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        use std::io::BufRead;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("multivio-smtp-{}", uuid::Uuid::new_v4()));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/smtp-sink.py");
        let tools = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/s3-test-server.sh"
        );
        let python = std::process::Command::new("bash")
            .arg(tools)
            .arg("python")
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .filter(|path| std::path::Path::new(path).is_file())
            .unwrap_or_else(|| "python3".to_owned());
        let mut child = std::process::Command::new(python)
            .arg(script)
            .arg(port.to_string())
            .arg(&dir)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs scripts/smtp-sink.py (scripts/bootstrap.sh installs it)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP sink did not start");
        SmtpSink { child, port, dir }
    }

    fn port(&self) -> u16 {
        self.port
    }

    /// The messages accepted so far, in order.
    fn messages(&self) -> Vec<Received> {
        let mut out = Vec::new();
        for n in 1.. {
            let Ok(data) = std::fs::read(self.dir.join(format!("{n}.eml"))) else {
                break;
            };
            let envelope = std::fs::read_to_string(self.dir.join(format!("{n}.env"))).unwrap();
            let mut lines = envelope.lines().map(str::to_owned);
            out.push(Received {
                mail_from: lines.next().unwrap_or_default(),
                rcpt_to: lines.filter(|l| !l.is_empty()).collect(),
                data,
            });
        }
        out
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A control call to the sandbox's Stripe; answers its JSON.
async fn stripe(api: &Api, path: &str, body: Value) -> Value {
    let resp = api
        .client
        .post(format!("{}/_sandbox/{path}", api.sandbox().stripe_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

/// Every event the fake made, oldest first.
async fn events(api: &Api) -> Vec<Value> {
    api.client
        .get(format!("{}/_sandbox/events", api.sandbox().stripe_url()))
        .send()
        .await
        .unwrap()
        .json::<Vec<Value>>()
        .await
        .unwrap()
}

/// The newest event of a type.
async fn last_event(api: &Api, kind: &str) -> Value {
    events(api)
        .await
        .into_iter()
        .rev()
        .find(|e| e["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} event"))
}

/// The statuses of a control call's deliveries, and what the API answered to each.
fn delivered(answer: &Value) -> Vec<(Option<u64>, Value)> {
    answer["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let body = d["body"]
                .as_str()
                .and_then(|b| serde_json::from_str(b).ok())
                .unwrap_or(Value::Null);
            (d["status"].as_u64(), body)
        })
        .collect()
}

/// A server over the sandbox whose Stripe fake delivers to it.
async fn billing_api() -> Api {
    let api = Api::start_sandboxed(false, &[], true).await;
    stripe(
        &api,
        "webhook",
        json!({ "url": format!("{}/v1/webhooks/stripe", api.base) }),
    )
    .await;
    api
}

/// Signs in `uid`, checks out `pro` through the API and completes the checkout on the fake;
/// answers the subscription id.
async fn subscribe(api: &Api, uid: &str) -> String {
    let (status, _) = api.get(uid, "/v1/me").await;
    assert_eq!(status, 200);
    let (status, body) = api
        .post(uid, "/v1/billing/checkout", json!({ "plan": "pro" }))
        .await;
    assert_eq!(status, 200, "{body}");
    let url = body["url"].as_str().unwrap();
    let prefix = format!("{}/c/pay/", api.sandbox().stripe_url());
    let session = url.strip_prefix(&prefix).unwrap_or_else(|| panic!("{url}"));
    let done = stripe(api, "complete_checkout", json!({ "session": session })).await;
    let outcomes = delivered(&done);
    assert_eq!(outcomes.len(), 3, "{done}");
    for (status, body) in &outcomes {
        assert_eq!(*status, Some(200), "{done}");
        assert_eq!(body["outcome"], "applied", "{done}");
    }
    let sub = &done["subscription"];
    sub.as_str()
        .or_else(|| sub["id"].as_str())
        .unwrap_or_else(|| panic!("{done}"))
        .to_owned()
}

async fn subscription(api: &Api, uid: &str) -> Value {
    let (status, body) = api.get(uid, "/v1/subscription").await;
    assert_eq!(status, 200, "{body}");
    body
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn processed(api: &Api, event: &str) -> bool {
    let mut conn = api.db.pool().get().await.unwrap();
    let c: Count =
        diesel::sql_query("SELECT count(*) AS n FROM processed_webhook_events WHERE event_id = $1")
            .bind::<Text, _>(event)
            .get_result(&mut conn)
            .await
            .unwrap();
    c.n == 1
}

async fn sql(api: &Api, statement: &str) {
    let mut conn = api.db.pool().get().await.unwrap();
    diesel::sql_query(statement)
        .execute(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn checkout_then_stripes_events_put_the_user_on_the_plan() {
    let api = billing_api().await;
    let before = subscription(&api, "alice").await;
    assert_eq!(before["plan"], "free");
    assert_eq!(before["quota"]["monthly_post_quota"], 10);

    subscribe(&api, "alice").await;

    // What went to Stripe: form bodies, the secret key, an idempotency key on every create.
    let calls: Vec<_> = api
        .sandbox()
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.platform == "stripe" && r.path.starts_with("/v1/") && r.method == "POST")
        .collect();
    let paths: Vec<_> = calls
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        paths,
        ["POST /v1/customers", "POST /v1/checkout/sessions"],
        "{calls:?}"
    );
    for call in &calls {
        assert_eq!(
            call.authorization.as_deref(),
            Some(format!("Bearer {}", sandbox::STRIPE_SECRET_KEY).as_str())
        );
        assert!(
            call.content_type
                .as_deref()
                .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")),
            "{call:?}"
        );
        assert!(
            call.idempotency_key
                .as_deref()
                .is_some_and(|k| !k.is_empty())
        );
    }
    let checkout = &calls[1].body;
    assert!(checkout.contains("mode=subscription"), "{checkout}");
    assert!(
        checkout.contains(&format!(
            "line_items[0][price]={}",
            sandbox::STRIPE_PRICE_PRO
        )),
        "{checkout}"
    );
    let tenant = api.tenant("alice").await;
    assert!(
        checkout.contains(&format!("client_reference_id={}", tenant.user_id)),
        "{checkout}"
    );

    let after = subscription(&api, "alice").await;
    assert_eq!(after["plan"], "pro", "{after}");
    assert_eq!(after["status"], "active");
    assert_eq!(after["quota"]["monthly_post_quota"], 100);
    let history = after["history"].as_array().unwrap();
    assert!(
        history
            .iter()
            .any(|h| h["status"] == "paid" && h["amount_paid"] == 1900 && h["plan_name"] == "pro"),
        "{after}"
    );

    // The portal opens for a customer.
    let (status, body) = api.post("alice", "/v1/billing/portal", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/p/session/", api.sandbox().stripe_url())),
        "{body}"
    );
    // Another user is untouched.
    assert_eq!(subscription(&api, "bob").await["plan"], "free");
}

#[tokio::test]
async fn an_event_delivered_twice_at_once_is_applied_once() {
    let api = billing_api().await;
    subscribe(&api, "alice").await;
    let rows = subscription(&api, "alice").await["history"]
        .as_array()
        .unwrap()
        .len();
    // A renewal's invoice, made but not delivered, then delivered twice concurrently.
    let paid = last_event(&api, "invoice.paid").await;
    let made = stripe(
        &api,
        "send_event",
        json!({
            "type": "invoice.paid",
            "object": paid["event"]["data"]["object"],
            "id": "evt_renewal_1",
            "deliver": false,
        }),
    )
    .await;
    assert_eq!(made["event"]["id"], "evt_renewal_1");
    let (a, b) = tokio::join!(
        stripe(&api, "resend", json!({ "event": "evt_renewal_1" })),
        stripe(&api, "resend", json!({ "event": "evt_renewal_1" })),
    );
    let mut outcomes: Vec<String> = [a, b]
        .iter()
        .flat_map(delivered)
        .map(|(status, body)| {
            assert_eq!(status, Some(200), "{body}");
            body["outcome"].as_str().unwrap().to_owned()
        })
        .collect();
    outcomes.sort();
    assert_eq!(outcomes, ["already_processed", "applied"]);
    let after = subscription(&api, "alice").await;
    assert_eq!(
        after["history"].as_array().unwrap().len(),
        rows + 1,
        "{after}"
    );
}

#[tokio::test]
async fn an_older_subscription_event_arriving_late_leaves_the_newest_state() {
    let api = billing_api().await;
    let sub = subscribe(&api, "alice").await;
    let created = last_event(&api, "customer.subscription.created").await;
    let moved = stripe(
        &api,
        "update_subscription",
        json!({ "subscription": sub, "price": sandbox::STRIPE_PRICE_BUSINESS }),
    )
    .await;
    assert_eq!(delivered(&moved)[0].1["outcome"], "applied", "{moved}");
    let now = subscription(&api, "alice").await;
    assert_eq!(now["plan"], "business", "{now}");
    assert_eq!(now["quota"]["monthly_post_quota"], 1000);

    // The state on `pro` from an hour before, delivered only now.
    let old = chrono::Utc::now().timestamp() - 3600;
    let late = stripe(
        &api,
        "send_event",
        json!({
            "type": "customer.subscription.updated",
            "object": created["event"]["data"]["object"],
            "created": old,
        }),
    )
    .await;
    let (status, body) = &delivered(&late)[0];
    assert_eq!(*status, Some(200), "{late}");
    assert_eq!(body["received"], true);
    let after = subscription(&api, "alice").await;
    assert_eq!(after["plan"], "business", "{after}");
    assert_eq!(after["quota"]["monthly_post_quota"], 1000);
}

#[tokio::test]
async fn deliveries_without_a_good_signature_are_refused_and_change_nothing() {
    let api = billing_api().await;
    let sub = subscribe(&api, "alice").await;
    // A genuine-looking cancellation of alice's subscription.
    let created = last_event(&api, "customer.subscription.created").await;
    let mut event = created["event"].clone();
    event["id"] = json!("evt_forged_1");
    event["type"] = json!("customer.subscription.deleted");
    event["created"] = json!(chrono::Utc::now().timestamp());
    event["data"]["object"]["status"] = json!("canceled");
    assert_eq!(event["data"]["object"]["id"], sub.as_str());
    let payload = serde_json::to_vec(&event).unwrap();
    let secret = Secret::new(sandbox::STRIPE_WEBHOOK_SECRET);
    let now = chrono::Utc::now().timestamp();
    let sign =
        |body: &[u8], secret: &Secret, at: i64| multivio_stripe::webhook::sign(body, secret, at);
    let pretty = serde_json::to_vec_pretty(&event).unwrap();

    let post = |body: Vec<u8>, signature: Option<String>| {
        let mut rb = api
            .client
            .post(format!("{}/v1/webhooks/stripe", api.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(signature) = signature {
            rb = rb.header("stripe-signature", signature);
        }
        api.send(rb)
    };
    let refused = [
        ("no signature", payload.clone(), None),
        (
            "garbled",
            payload.clone(),
            Some("t=yesterday,v1=zz".to_owned()),
        ),
        ("only v0", payload.clone(), Some(format!("t={now},v0=00ff"))),
        (
            "another secret",
            payload.clone(),
            Some(sign(&payload, &Secret::new("whsec_someone_else"), now)),
        ),
        (
            "expired",
            payload.clone(),
            Some(sign(&payload, &secret, now - 301)),
        ),
        (
            "from the future",
            payload.clone(),
            Some(sign(&payload, &secret, now + 301)),
        ),
        (
            "re-serialised with other whitespace",
            pretty,
            Some(sign(&payload, &secret, now)),
        ),
    ];
    for (what, body, signature) in refused {
        let (status, problem, content_type) = post(body, signature).await;
        assert_eq!(status, 400, "{what}: {problem}");
        assert_problem(status, &problem, &content_type);
        assert!(
            problem["type"].as_str().unwrap().ends_with("unverified"),
            "{what}: {problem}"
        );
    }
    assert!(!processed(&api, "evt_forged_1").await);
    let unchanged = subscription(&api, "alice").await;
    assert_eq!(unchanged["plan"], "pro", "{unchanged}");
    assert_eq!(unchanged["status"], "active");

    // The same bytes, properly signed, are applied: the refusals were the signatures'.
    let (status, body, _) = post(payload.clone(), Some(sign(&payload, &secret, now))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "applied");
    let cancelled = subscription(&api, "alice").await;
    assert_eq!(cancelled["plan"], "free", "{cancelled}");
    assert_eq!(cancelled["status"], "canceled");
}

#[tokio::test]
async fn a_failure_while_applying_answers_5xx_and_applies_nothing_until_stripe_retries() {
    let api = billing_api().await;
    let sub = subscribe(&api, "alice").await;
    let rows = subscription(&api, "alice").await["history"]
        .as_array()
        .unwrap()
        .len();

    // The database fails in the middle of the event's transaction (after the event id and
    // the subscription are written, at the history row).
    sql(
        &api,
        "CREATE FUNCTION fail_history() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'disk full'; END $$",
    )
    .await;
    sql(
        &api,
        "CREATE TRIGGER fail_history BEFORE INSERT ON subscription_history \
         FOR EACH ROW EXECUTE FUNCTION fail_history()",
    )
    .await;
    let moved = stripe(
        &api,
        "update_subscription",
        json!({ "subscription": sub, "price": sandbox::STRIPE_PRICE_BUSINESS }),
    )
    .await;
    let (status, problem) = &delivered(&moved)[0];
    assert!(status.is_some_and(|s| s >= 500), "{moved}");
    assert_eq!(
        problem["status"],
        json!(status),
        "a problem document: {moved}"
    );
    let event = last_event(&api, "customer.subscription.updated").await;
    let id = event["id"].as_str().unwrap();
    assert!(!processed(&api, id).await, "the event id rolled back too");
    let unchanged = subscription(&api, "alice").await;
    assert_eq!(unchanged["plan"], "pro", "{unchanged}");
    assert_eq!(unchanged["quota"]["monthly_post_quota"], 100);
    assert_eq!(unchanged["history"].as_array().unwrap().len(), rows);

    // Stripe delivers it again once the database is well: applied, once.
    sql(&api, "DROP TRIGGER fail_history ON subscription_history").await;
    let again = stripe(&api, "resend", json!({ "event": id })).await;
    assert_eq!(delivered(&again)[0].1["outcome"], "applied", "{again}");
    let after = subscription(&api, "alice").await;
    assert_eq!(after["plan"], "business", "{after}");
    assert_eq!(after["history"].as_array().unwrap().len(), rows + 1);
}

#[tokio::test]
async fn a_database_outage_during_a_delivery_answers_5xx_and_stripes_retry_applies_it() {
    let api = billing_api().await;
    let sub = subscribe(&api, "alice").await;
    let database = api.db.name().to_owned();
    // From the cluster's maintenance database: nobody may connect to the test's, and every
    // connection to it is cut.
    let mut admin = url::Url::parse(api.db.url()).unwrap();
    admin.set_path("/postgres");
    let mut conn = <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(
        admin.as_str(),
    )
    .await
    .unwrap();
    diesel::sql_query(format!(
        "ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS false"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind::<Text, _>(&database)
        .execute(&mut conn)
        .await
        .unwrap();
    let moved = stripe(
        &api,
        "update_subscription",
        json!({ "subscription": sub, "price": sandbox::STRIPE_PRICE_BUSINESS }),
    )
    .await;
    let (status, _) = &delivered(&moved)[0];
    assert!(status.is_some_and(|s| s >= 500), "{moved}");
    diesel::sql_query(format!(
        "ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS true"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    drop(conn);
    let event = last_event(&api, "customer.subscription.updated").await;
    let id = event["id"].as_str().unwrap().to_owned();
    assert!(!processed(&api, &id).await);

    // Stripe retries (with backoff) until it is acknowledged.
    let mut outcome = Value::Null;
    for _ in 0..50 {
        let again = stripe(&api, "resend", json!({ "event": id })).await;
        let (status, body) = delivered(&again).remove(0);
        if status == Some(200) {
            outcome = body["outcome"].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(outcome, "applied");
    assert_eq!(subscription(&api, "alice").await["plan"], "business");
}

#[tokio::test]
async fn checkout_for_a_plan_not_for_sale_is_refused() {
    let api = billing_api().await;
    for plan in ["free", "gold", ""] {
        let (status, problem, content_type) = api
            .send(
                api.req(Method::POST, "alice", "/v1/billing/checkout")
                    .json(&json!({ "plan": plan })),
            )
            .await;
        assert_eq!(status, 422, "{plan}: {problem}");
        assert_problem(status, &problem, &content_type);
    }
    // No customer yet: no portal.
    let (status, _) = api.post("alice", "/v1/billing/portal", json!({})).await;
    assert_eq!(status, 409);
}

// ---------------------------------------------------------------------------------------------
// Verification mail over SMTP.

/// A request as `uid` whose sign-in provider has not verified the email.
fn unverified(api: &Api, method: Method, uid: &str, path: &str) -> reqwest::RequestBuilder {
    let token = mint_emulator_token(
        PROJECT,
        uid,
        Some(&format!("{uid}@example.com")),
        false,
        Duration::from_secs(3600),
        chrono::Utc::now(),
    );
    api.client
        .request(method, format!("{}{path}", api.base))
        .bearer_auth(token)
}

/// The token of the verification mail the relay received for `to`.
fn mailed_token(server: &SmtpSink, to: &str) -> String {
    let message = server
        .messages()
        .into_iter()
        .rev()
        .find(|m| m.rcpt_to.iter().any(|r| r.contains(to)))
        .unwrap_or_else(|| panic!("no mail to {to}"));
    let parsed = mail_parser::MessageParser::default()
        .parse(&message.data)
        .unwrap();
    let text = parsed.body_text(0).unwrap().into_owned();
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/v1/email-verification/confirm?token="))
        .unwrap_or_else(|| panic!("no link in {text}"));
    let url = url::Url::parse(link).unwrap();
    assert_eq!(url.path(), "/v1/email-verification/confirm");
    url.query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

async fn verified(api: &Api, uid: &str) -> bool {
    let (status, me, _) = api.send(unverified(api, Method::GET, uid, "/v1/me")).await;
    assert_eq!(status, 200, "{me}");
    me["email_verified"].as_bool().unwrap()
}

async fn request_mail(api: &Api, uid: &str) -> u16 {
    api.send(unverified(
        api,
        Method::POST,
        uid,
        "/v1/me/email-verification",
    ))
    .await
    .0
}

/// Confirms through the page the link opens: the page, then its button's form.
async fn confirm_by_page(api: &Api, token: &str) -> (u16, String) {
    let page = api
        .client
        .get(format!("{}/v1/email-verification/confirm", api.base))
        .query(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["cache-control"].to_str().unwrap(),
        "no-store"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("<form method=\"post\""), "{html}");
    let answer = api
        .client
        .post(format!("{}/v1/email-verification/confirm", api.base))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    assert!(
        answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    (status, answer.text().await.unwrap())
}

#[tokio::test]
async fn the_verification_mail_goes_through_smtp_and_its_link_confirms_once() {
    let server = SmtpSink::start();
    let relay = format!("--smtp-url=smtp://127.0.0.1:{}", server.port());
    let api = Api::start_sandboxed(
        false,
        &[&relay, "--mail-from=Multivio <no-reply@multivio.test>"],
        false,
    )
    .await;
    assert!(!verified(&api, "mia").await);
    assert_eq!(request_mail(&api, "mia").await, 202);
    let message = server.messages().pop().unwrap();
    assert_eq!(message.rcpt_to, ["mia@example.com"]);
    assert!(message.mail_from.contains("no-reply@multivio.test"));
    let token = mailed_token(&server, "mia@example.com");

    // Only a hash of the token is kept.
    #[derive(diesel::QueryableByName)]
    struct Kept {
        #[diesel(sql_type = Bool)]
        raw: bool,
        #[diesel(sql_type = Bool)]
        hashed: bool,
    }
    let mut conn = api.db.pool().get().await.unwrap();
    let kept: Kept = diesel::sql_query(
        "SELECT email_verification_token = $1 AS raw, \
                email_verification_token = encode(sha256(convert_to($1, 'UTF8')), 'hex') AS hashed \
           FROM users WHERE firebase_uid = 'mia'",
    )
    .bind::<Text, _>(&token)
    .get_result(&mut conn)
    .await
    .unwrap();
    drop(conn);
    assert!(!kept.raw && kept.hashed);

    // A second mail at once is throttled.
    let (status, problem, _) = api
        .send(unverified(
            &api,
            Method::POST,
            "mia",
            "/v1/me/email-verification",
        ))
        .await;
    assert_eq!(status, 429, "{problem}");

    let (status, html) = confirm_by_page(&api, &token).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("confirmed"), "{html}");
    assert!(verified(&api, "mia").await);
    // Replayed: the link worked once.
    let (status, html) = confirm_by_page(&api, &token).await;
    assert_eq!(status, 404, "{html}");
    let (status, problem, _) = api
        .send(
            api.client
                .post(format!("{}/v1/email-verification/confirm", api.base))
                .json(&json!({ "token": token })),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
}

#[tokio::test]
async fn a_token_confirms_only_its_own_address_and_not_once_expired() {
    let server = SmtpSink::start();
    let relay = format!("--smtp-url=smtp://127.0.0.1:{}", server.port());
    let api = Api::start_sandboxed(
        false,
        &[&relay, "--mail-from=no-reply@multivio.test"],
        false,
    )
    .await;
    for uid in ["ola", "pia", "noa"] {
        assert_eq!(request_mail(&api, uid).await, 202);
    }
    let ola = mailed_token(&server, "ola@example.com");
    let noa = mailed_token(&server, "noa@example.com");
    let (status, _) = confirm_by_page(&api, &ola).await;
    assert_eq!(status, 200);
    assert!(verified(&api, "ola").await);
    assert!(!verified(&api, "pia").await, "ola's token is not pia's");

    sql(
        &api,
        "UPDATE users SET email_verification_expires_at = now() - interval '1 second' \
         WHERE firebase_uid = 'noa'",
    )
    .await;
    let (status, _) = confirm_by_page(&api, &noa).await;
    assert_eq!(status, 404);
    assert!(!verified(&api, "noa").await);
    // A made-up token confirms nobody.
    let (status, _) = confirm_by_page(&api, "not-a-token").await;
    assert_eq!(status, 404);
    assert!(!verified(&api, "pia").await);
}

#[tokio::test]
async fn an_event_for_a_customer_nobody_has_is_acknowledged_and_changes_nothing() {
    let api = billing_api().await;
    subscribe(&api, "alice").await;
    let created = last_event(&api, "customer.subscription.created").await;
    let mut object = created["event"]["data"]["object"].clone();
    object["customer"] = json!("cus_nobody");
    object["id"] = json!("sub_nobody");
    let sent = stripe(
        &api,
        "send_event",
        json!({ "type": "customer.subscription.deleted", "object": object, "id": "evt_nobody" }),
    )
    .await;
    let (status, body) = &delivered(&sent)[0];
    assert_eq!(*status, Some(200), "{sent}");
    assert_eq!(body["outcome"], "ignored");
    // Not recorded: should the customer become known, a later delivery can still apply.
    assert!(!processed(&api, "evt_nobody").await);
    assert_eq!(subscription(&api, "alice").await["plan"], "pro");
}

// ---------------------------------------------------------------------------------------------
// The quota outlives the account.

#[tokio::test]
async fn deleting_the_account_does_not_give_the_months_posts_back() {
    let api = Api::start().await;
    api.connect("alice", multivio_domain::Provider::X, "alice_x")
        .await;
    let later = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    for n in 0..3 {
        let (status, post) = api
            .post(
                "alice",
                "/v1/posts",
                json!({ "name": format!("post {n}"), "universal_content": format!("post {n}"), "platforms": ["x"] }),
            )
            .await;
        assert_eq!(status, 201, "{post}");
        let id = post["id"].as_str().unwrap();
        let (status, body) = api
            .post(
                "alice",
                &format!("/v1/posts/{id}/schedule"),
                json!({ "schedule_date": later }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let quota = |me: Value| me["quota"]["remaining_posts"].as_u64().unwrap();
    assert_eq!(quota(api.get("alice", "/v1/me").await.1), 7);

    let (status, _, _) = api.send(api.req(Method::DELETE, "alice", "/v1/me")).await;
    assert_eq!(status, 204);
    // The same still-valid token signs in again: a new account, the same month's quota.
    let (status, me) = api.get("alice", "/v1/me").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["plan"]["name"], "free");
    assert_eq!(
        quota(me),
        7,
        "the posts used before the deletion still count"
    );
    assert_eq!(api.get("alice", "/v1/posts").await.1["items"], json!([]));
}

#[tokio::test]
async fn a_verified_address_carries_the_quota_to_a_new_sign_in_and_an_unverified_one_does_not() {
    let api = Api::start().await;
    api.connect("alice", multivio_domain::Provider::X, "alice_x")
        .await;
    let (_, post) = api
        .post(
            "alice",
            "/v1/posts",
            json!({ "name": "hello", "universal_content": "hello", "platforms": ["x"] }),
        )
        .await;
    let later = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let (status, _) = api
        .post(
            "alice",
            &format!("/v1/posts/{}/schedule", post["id"].as_str().unwrap()),
            json!({ "schedule_date": later }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _, _) = api.send(api.req(Method::DELETE, "alice", "/v1/me")).await;
    assert_eq!(status, 204);

    let sign_in = |uid: &str, verified: bool| {
        let token = mint_emulator_token(
            PROJECT,
            uid,
            Some("alice@example.com"),
            verified,
            Duration::from_secs(3600),
            chrono::Utc::now(),
        );
        api.send(
            api.client
                .get(format!("{}/v1/me", api.base))
                .bearer_auth(token),
        )
    };
    // Someone signing in with the address unverified inherits nothing...
    let (status, me, _) = sign_in("mallory", false).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["quota"]["remaining_posts"], 10);
    // ...and reserves nothing: the owner of the address, under a new sign-in, gets in and
    // continues her month.
    let (status, me, _) = sign_in("alice-2", true).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["quota"]["remaining_posts"], 9, "{me}");
    // mallory's account no longer holds the address (and a sign-in that brings it again is
    // the refused one: the store's tests show it).
    let (status, me, _) = sign_in("mallory", false).await;
    assert_eq!(status, 200, "{me}");
    assert_ne!(me["email"], "alice@example.com", "{me}");
    assert_eq!(me["email_verified"], false);
}

#[tokio::test]
async fn a_paying_user_can_neither_check_out_again_nor_delete_the_account() {
    let api = billing_api().await;
    subscribe(&api, "alice").await;
    let (status, problem) = api
        .post(
            "alice",
            "/v1/billing/checkout",
            json!({ "plan": "business" }),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("billing portal")
    );
    let (status, problem, _) = api.send(api.req(Method::DELETE, "alice", "/v1/me")).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(
        subscription(&api, "alice").await["plan"],
        "pro",
        "nothing deleted"
    );
}

#[tokio::test]
async fn events_arriving_before_the_checkout_completes_still_find_the_user() {
    let api = billing_api().await;
    let (_, _) = api.get("alice", "/v1/me").await;
    let (status, body) = api
        .post("alice", "/v1/billing/checkout", json!({ "plan": "pro" }))
        .await;
    assert_eq!(status, 200, "{body}");
    let url = body["url"].as_str().unwrap();
    let session = url.rsplit('/').next().unwrap();
    // Completed without delivering; then delivered newest first.
    let done = stripe(
        &api,
        "complete_checkout",
        json!({ "session": session, "deliver": false }),
    )
    .await;
    // Paid, and no event here yet: Stripe's word stops a second checkout (which would bill
    // twice).
    let (status, problem) = api
        .post("alice", "/v1/billing/checkout", json!({ "plan": "pro" }))
        .await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("already subscribed"),
        "{problem}"
    );
    let mut ids: Vec<String> = done["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_owned())
        .collect();
    ids.reverse();
    for id in &ids {
        let again = stripe(&api, "resend", json!({ "event": id })).await;
        let (status, body) = &delivered(&again)[0];
        assert_eq!(*status, Some(200), "{again}");
        assert_eq!(body["outcome"], "applied", "{id}: {again}");
    }
    let after = subscription(&api, "alice").await;
    assert_eq!(after["plan"], "pro", "{after}");
    assert_eq!(after["quota"]["monthly_post_quota"], 100);
}
