//! The REST client against a real HTTP server on a local port (a scripted
//! one: each connection gets the next scripted action), so retries,
//! `Retry-After` and "was the request sent" are decided by real sockets.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use infra_clients::rest::{Auth, Config, Request, RestClient, RestError};
use infra_clients::retry::Backoff;
use reqwest::Method;

const TOKEN: &str = "tok-3f9a1c-SECRET";

/// What the server does with one connection's request.
#[derive(Clone)]
enum Action {
    /// Answer with this status, extra headers and body.
    Answer(u16, Vec<(&'static str, String)>, String),
    /// Answer with this status and, as the body, the request's
    /// `Authorization` header (an echoing server).
    Echo(u16),
    /// Read the whole request, then close without answering.
    Close,
}

/// A request the server saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    authorization: Option<String>,
}

struct Server {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// Serves `script` in order (the last action repeats), one request per
/// connection.
fn serve(script: Vec<Action>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(conn) = conn else { return };
            let action = script[n.min(script.len() - 1)].clone();
            let Some(req) = read_request(&conn) else {
                continue;
            };
            log.lock().unwrap().push(req.clone());
            respond(conn, &action, &req);
        }
    });
    Server { url, seen }
}

fn read_request(conn: &TcpStream) -> Option<Seen> {
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut length = 0usize;
    let mut authorization = None;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "authorization" => authorization = Some(value.trim().to_string()),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Seen {
        method,
        path,
        authorization,
    })
}

fn respond(mut conn: TcpStream, action: &Action, req: &Seen) {
    let (status, headers, body) = match action {
        Action::Close => return,
        Action::Answer(status, headers, body) => (*status, headers.clone(), body.clone()),
        Action::Echo(status) => (
            *status,
            Vec::new(),
            format!(
                "you sent: {}",
                req.authorization.clone().unwrap_or_default()
            ),
        ),
    };
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let _ = conn.write_all(format!("{head}\r\n{body}").as_bytes());
}

fn json(status: u16, body: &str) -> Action {
    Action::Answer(
        status,
        vec![("Content-Type", "application/json".into())],
        body.into(),
    )
}

fn client(url: &str, retries: u32) -> RestClient {
    let mut config = Config::new(url, Auth::Bearer(TOKEN.into()));
    config.timeout = Duration::from_secs(10);
    config.backoff = Backoff {
        retries,
        base: Duration::from_millis(1),
        max_wait: Duration::from_secs(30),
    };
    RestClient::new(&config).unwrap()
}

#[test]
fn a_503_with_retry_after_is_retried_after_the_wait_it_asks_for() {
    let server = serve(vec![
        Action::Answer(503, vec![("Retry-After", "1".into())], "busy".into()),
        json(200, r#"{"ok": true}"#),
    ]);
    let api = client(&server.url, 3);
    let started = Instant::now();
    let answer = api
        .send(&Request::new(Method::GET, "/api/thing"), "the thing")
        .unwrap();
    assert_eq!(answer["ok"], true);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried before the Retry-After of 1 s"
    );
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].path, "/api/thing");
    assert_eq!(
        seen[1].authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
}

#[test]
fn paths_join_the_base_url_with_one_slash() {
    let server = serve(vec![json(200, "{}")]);
    let api = client(&format!("{}/api/v3/", server.url), 0);
    api.send(&Request::new(Method::GET, "core/users/?page=2"), "users")
        .unwrap();
    let api = client(&server.url, 0);
    api.send(&Request::new(Method::GET, "/api/v1/packages/o"), "packages")
        .unwrap();
    let seen = server.seen.lock().unwrap();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["/api/v3/core/users/?page=2", "/api/v1/packages/o"]);
}

#[test]
fn a_retry_after_beyond_the_budget_is_reported_at_once() {
    let server = serve(vec![Action::Answer(
        429,
        vec![("Retry-After", "3600".into())],
        String::new(),
    )]);
    let api = client(&server.url, 5);
    let err = api
        .send(&Request::new(Method::GET, "/x"), "the list")
        .unwrap_err();
    assert_eq!(
        err,
        RestError::RateLimited {
            what: "the list".into(),
            status: 429,
            attempts: 1,
            asked: Some(Duration::from_secs(3600)),
            refused: true,
        }
    );
    assert_eq!(server.seen.lock().unwrap().len(), 1);
}

#[test]
fn a_post_whose_request_was_sent_is_not_retried_after_the_connection_drops() {
    let server = serve(vec![Action::Close, json(201, "{}")]);
    let api = client(&server.url, 3);
    let err = api
        .send(
            &Request::new(Method::POST, "/objects").json(&serde_json::json!({"name": "a"})),
            "object a",
        )
        .unwrap_err();
    assert!(
        matches!(err, RestError::Transport { attempts: 1, .. }),
        "{err:?}"
    );
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "the POST reached the server once: {seen:?}");
    assert_eq!(seen[0].method, "POST");
}

#[test]
fn a_throttled_post_is_retried_it_was_not_processed() {
    let server = serve(vec![
        Action::Answer(429, vec![("Retry-After", "0".into())], String::new()),
        json(201, r#"{"id": 1}"#),
    ]);
    let api = client(&server.url, 3);
    let answer = api
        .send(
            &Request::new(Method::POST, "/objects").json(&serde_json::json!({"name": "a"})),
            "object a",
        )
        .unwrap();
    assert_eq!(answer["id"], 1);
    assert_eq!(server.seen.lock().unwrap().len(), 2);
}

#[test]
fn a_get_is_retried_after_the_connection_drops() {
    let server = serve(vec![Action::Close, Action::Close, json(200, "[1]")]);
    let api = client(&server.url, 3);
    let answer = api
        .send(&Request::new(Method::GET, "/objects"), "objects")
        .unwrap();
    assert_eq!(answer, serde_json::json!([1]));
    assert_eq!(server.seen.lock().unwrap().len(), 3);
}

#[test]
fn a_post_is_retried_when_it_never_connected() {
    // A port with nothing listening: the connection is refused every time.
    let url = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let api = client(&url, 2);
    let err = api
        .send(
            &Request::new(Method::POST, "/objects").json(&serde_json::json!({})),
            "object a",
        )
        .unwrap_err();
    assert!(
        matches!(err, RestError::Transport { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("object a: cannot reach http://127.0.0.1:"),
        "{err}"
    );
}

#[test]
fn a_500_is_retried_for_idempotent_requests_only() {
    let server = serve(vec![json(500, r#"{"detail": "boom"}"#)]);
    let api = client(&server.url, 2);
    let err = api
        .send(&Request::new(Method::DELETE, "/objects/1"), "object 1")
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert!(
        matches!(err, RestError::Status { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(server.seen.lock().unwrap().len(), 3);

    let server = serve(vec![json(500, r#"{"detail": "boom"}"#)]);
    let api = client(&server.url, 2);
    let err = api
        .send(
            &Request::new(Method::POST, "/objects").json(&serde_json::json!({})),
            "object 1",
        )
        .unwrap_err();
    assert!(
        matches!(err, RestError::Status { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(server.seen.lock().unwrap().len(), 1);
    // A PATCH the caller declares idempotent is retried like a PUT.
    let server = serve(vec![json(502, "{}"), json(200, r#"{"v": 2}"#)]);
    let api = client(&server.url, 2);
    let answer = api
        .send(
            &Request::new(Method::PATCH, "/objects/1")
                .json(&serde_json::json!({"v": 2}))
                .idempotent(true),
            "object 1",
        )
        .unwrap();
    assert_eq!(answer["v"], 2);
}

#[test]
fn permanent_errors_are_returned_at_once_with_a_clean_excerpt() {
    let body = format!("{{\"detail\": \"bad\\nFAKE LINE {}\"}}", "x".repeat(2000));
    let server = serve(vec![json(400, &body)]);
    let api = client(&server.url, 3);
    let err = api
        .send(&Request::new(Method::GET, "/objects"), "objects")
        .unwrap_err();
    let RestError::Status {
        status,
        attempts,
        body,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((*status, *attempts), (400, 1));
    assert!(!body.contains('\n'), "{body}");
    assert_eq!(
        body.chars().count(),
        infra_clients::rest::BODY_EXCERPT_CHARS + 1
    );
    assert_eq!(server.seen.lock().unwrap().len(), 1);
}

#[test]
fn the_token_never_appears_in_errors_or_debug_output() {
    // A server that echoes the Authorization header back, in an auth
    // failure and in a server error.
    for status in [401, 500] {
        let server = serve(vec![Action::Echo(status)]);
        let api = client(&server.url, 1);
        let err = api
            .send(&Request::new(Method::GET, "/me"), "the user")
            .unwrap_err();
        assert_eq!(err.status(), Some(status));
        for text in [err.to_string(), format!("{err:?}"), format!("{api:?}")] {
            assert!(!text.contains(TOKEN), "{text}");
        }
        assert!(
            err.to_string().contains("you sent: Bearer <redacted>"),
            "{err}"
        );
    }
    // Basic auth: neither the password nor its base64 form.
    let server = serve(vec![Action::Echo(403)]);
    let mut config = Config::new(
        &server.url,
        Auth::Basic {
            user: "bot".into(),
            password: TOKEN.into(),
        },
    );
    config.backoff.retries = 0;
    let api = RestClient::new(&config).unwrap();
    let err = api
        .send(&Request::new(Method::GET, "/v2/"), "registry")
        .unwrap_err();
    let basic = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("bot:{TOKEN}"))
    };
    let text = format!("{err} {err:?} {api:?} {config:?}");
    assert!(!text.contains(TOKEN) && !text.contains(&basic), "{text}");
    // Unreachable: the cause names the address, not the token.
    let api = client("http://127.0.0.1:1", 0);
    let err = api.send(&Request::new(Method::GET, "/"), "x").unwrap_err();
    assert!(!format!("{err} {err:?}").contains(TOKEN));
}

#[test]
fn a_token_that_is_not_a_header_value_is_refused_without_echoing_it() {
    let err = RestClient::new(&Config::new(
        "http://127.0.0.1:1",
        Auth::Token("line\nbreak-SECRET".into()),
    ))
    .unwrap_err();
    assert!(matches!(err, RestError::Setup(_)));
    assert!(!err.to_string().contains("SECRET"), "{err}");
}

#[test]
fn a_ca_file_without_a_certificate_is_refused() {
    let mut config = Config::new("https://127.0.0.1:1", Auth::None);
    config.ca_pem = Some(b"not a certificate".to_vec());
    let err = RestClient::new(&config).unwrap_err();
    assert!(err.to_string().contains("no PEM certificate"), "{err}");
}
