//! A run's events as server-sent events (`text/event-stream`): `event: NAME` and one line
//! of JSON `data` each, written and flushed as they come, a comment every few seconds so a
//! closed page is noticed, and the response ended after the run's last event (chunked over
//! HTTP/1.1, so the client sees the end while the connection may stay open; by closing the
//! connection over HTTP/1.0).
//!
//! A page that goes away (its stream cannot be written) stops its run: nobody would see it.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use tiny_http::Request;

use super::runs::Run;

/// How long the stream waits for an event before it writes a keep-alive comment.
const KEEPALIVE: Duration = Duration::from_secs(5);

pub fn stream(request: Request, run: Arc<Run>) {
    if !run.watch() {
        let body = serde_json::json!({ "error": { "key": null,
            "message": format!("run {} is already being watched by a page", run.id) } });
        let _ = request.respond(super::http::json_response(409, &body));
        return;
    }
    let chunked = *request.http_version() != tiny_http::HTTPVersion(1, 0);
    let mut out = request.into_writer();
    let delimit = if chunked {
        "Transfer-Encoding: chunked"
    } else {
        "Connection: close"
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
         {delimit}\r\n\r\n"
    );
    // A batch of events as one chunk; the empty chunk ends the response.
    let frame = |text: &str| match chunked {
        true => format!("{:x}\r\n{text}\r\n", text.len()),
        false => text.to_string(),
    };
    let mut send = |bytes: &str| out.write_all(bytes.as_bytes()).and_then(|_| out.flush());
    if send(&head).is_err() {
        return run.cancel();
    }
    loop {
        let (events, finished) = run.next_events(KEEPALIVE);
        let mut text = String::new();
        if events.is_empty() && !finished {
            text.push_str(": waiting\n\n");
        }
        for (name, data) in events {
            text.push_str(&format!("event: {name}\ndata: {data}\n\n"));
        }
        let mut bytes = if text.is_empty() {
            String::new()
        } else {
            frame(&text)
        };
        if finished && chunked {
            bytes.push_str("0\r\n\r\n");
        }
        if send(&bytes).is_err() {
            // The page has gone.
            return run.cancel();
        }
        if finished {
            return;
        }
    }
}
