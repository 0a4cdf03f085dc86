//! A run's events as server-sent events (`text/event-stream`): `event: NAME` and one line
//! of JSON `data` each, written and flushed as they come, a comment every few seconds so a
//! closed page is noticed, and the connection closed after the run's last event.
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
    let mut out = request.into_writer();
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
                Connection: close\r\n\r\n";
    if out
        .write_all(head.as_bytes())
        .and_then(|_| out.flush())
        .is_err()
    {
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
        if out
            .write_all(text.as_bytes())
            .and_then(|_| out.flush())
            .is_err()
        {
            // The page has gone.
            return run.cancel();
        }
        if finished {
            return;
        }
    }
}
