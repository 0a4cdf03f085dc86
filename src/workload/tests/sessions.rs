//! Multi-turn sessions: turn k's prompt is the history plus new tokens, the history is found
//! in the prefix cache, sessions end when they outgrow the context, and what is refused.

use super::config;

/// One session of three turns: 100-token first prompt, 10-token replies, 20 new tokens a turn,
/// one second of thinking.
const ONE_SESSION: &str = r#"
arrival_pattern = "batched"
num_requests = 1
input_len_dist = { type = "fixed", value = 100 }
output_len_dist = { type = "fixed", value = 10 }

[workload.sessions]
turns = { type = "fixed", value = 3 }
think_time_secs = { type = "fixed", value = 1.0 }
new_input_len_dist = { type = "fixed", value = 20 }
"#;

#[test]
fn each_turn_sends_the_history_and_finds_it_cached() {
    let c = config(ONE_SESSION);
    let s = crate::Simulator::new(&c).unwrap().run().unwrap();
    assert_eq!(s.requests_completed, 3);
    // Prompts 100, 100 + 10 + 20 = 130, 130 + 10 + 20 = 160.
    assert_eq!(s.input_tokens, 100 + 130 + 160);
    // Turn 1 leaves 109 computed tokens (its last reply token is never fed back): 6 full
    // blocks of 16; turn 2 finds them (96 tokens) and leaves 139 computed: 8 blocks, which
    // turn 3 finds (128 tokens).
    assert_eq!(s.prefix_cache_hits, 96 + 128);
    let sessions = s.sessions.clone().expect("a session summary");
    assert_eq!(
        (sessions.started, sessions.completed, sessions.truncated),
        (1, 1, 0)
    );
    assert_eq!(sessions.turns_mean, Some(3.0));
    // Two think times of a second separate the turns.
    assert!(sessions.duration_s.mean.unwrap() > 2.0);
    let json = s.to_json();
    assert_eq!(json["sessions"]["completed"], 1);
}

#[test]
fn a_session_that_outgrows_the_context_ends() {
    // The toy's 1000-token context: 100, 130, ..., every turn adds 30; turn 30 would need
    // 100 + 29 x 30 = 970 prompt tokens plus a reply: the session ends before sending it.
    let c = config(&ONE_SESSION.replace("value = 3 }", "value = 1000 }"));
    let s = crate::Simulator::new(&c).unwrap().run().unwrap();
    let sessions = s.sessions.unwrap();
    assert_eq!((sessions.completed, sessions.truncated), (1, 1));
    assert_eq!(s.requests_completed, 30);
    assert_eq!(
        s.requests_clipped, 0,
        "no turn was cut: the session ended instead"
    );
}

#[test]
fn sessions_start_by_the_arrival_process_and_count_against_num_requests() {
    let c = config(
        &ONE_SESSION
            .replace("\"batched\"", "\"poisson\"\narrival_rate = 5.0")
            .replace("num_requests = 1", "num_requests = 40"),
    );
    let s = crate::Simulator::new(&c).unwrap().run().unwrap();
    let sessions = s.sessions.unwrap();
    assert_eq!(sessions.started, 40);
    assert_eq!(s.requests_completed, 120, "three turns each");
    assert!(s.prefix_cache_hits >= 40 * (96 + 128));
}

#[test]
fn sessions_are_refused_where_they_cannot_apply() {
    let text = crate::testing::toy_text(
        &ONE_SESSION.replace("\"batched\"", "\"closed_loop\"\nnum_concurrent_users = 2"),
    );
    let e = crate::Config::from_toml_str(&text).unwrap_err().to_string();
    assert!(
        e.contains("workload.sessions is set with closed_loop"),
        "{e}"
    );
    let text = crate::testing::toy_text(
        &ONE_SESSION.replace("turns = { type = \"fixed\", value = 3 }\n", ""),
    );
    let e = crate::Config::from_toml_str(&text).unwrap_err().to_string();
    assert!(
        e.contains("turns"),
        "a session without a turn distribution: {e}"
    );
    let text = crate::testing::toy_text(&ONE_SESSION.replace(
        "type = \"fixed\", value = 1.0",
        "type = \"uniform\", min = 3, max = 1",
    ));
    let e = crate::Config::from_toml_str(&text).unwrap_err().to_string();
    assert!(e.contains("min = 3 is greater than max = 1"), "{e}");
}

/// Eight three-turn sessions on four replicas: session_affinity sends every later turn where
/// the session's history is cached, so each finds all of it (96 + 128 tokens a session).
#[test]
fn session_affinity_keeps_a_sessions_turns_on_one_replica() {
    let fleet = |router: &str| {
        let text = crate::testing::toy_text(
            &ONE_SESSION
                .replace("\"batched\"", "\"poisson\"\narrival_rate = 20.0")
                .replace("num_requests = 1", "num_requests = 8"),
        ) + &format!("\n[cluster]\nreplicas = 4\nrouter = \"{router}\"\n");
        let c = crate::Config::from_toml_str(&text).unwrap();
        crate::Simulator::new(&c).unwrap().run().unwrap()
    };
    let sticky = fleet("session_affinity");
    assert_eq!(sticky.requests_completed, 24);
    assert_eq!(sticky.prefix_cache_hits, 8 * (96 + 128));
    let spread = fleet("round_robin");
    assert!(
        spread.prefix_cache_hits < sticky.prefix_cache_hits,
        "{}",
        spread.prefix_cache_hits
    );
}

/// Turns sent after completions must not hold back the arrival process: sessions start at
/// exactly the instants the same process gives without sessions, however long the think
/// times (a turn queued ahead of the process once stopped it from generating its next
/// arrival until the turn was released).
#[test]
fn later_turns_do_not_delay_the_arrival_process() {
    let text = ONE_SESSION
        .replace("\"batched\"", "\"poisson\"\narrival_rate = 5.0")
        .replace("num_requests = 1", "num_requests = 50")
        .replace("value = 1.0", "value = 3.0");
    let mut w = super::Workload::new(&config(&text), None).unwrap();
    let mut starts = Vec::new();
    let mut turns = 0;
    let mut clock = 0.0;
    while let Some(t) = w.next_arrival() {
        let spec = w.pop_arrived(t).expect("arrived");
        assert!(spec.arrival >= clock, "released out of order at {clock}");
        clock = spec.arrival;
        if spec.prompt_len == 100 {
            starts.push(spec.arrival);
        }
        turns += 1;
        // Every turn completes the moment it arrives.
        w.on_turn_done(&spec, spec.arrival);
    }
    assert_eq!(turns, 150);
    let plain = config(text.split("[workload.sessions]").next().unwrap());
    let mut plain = super::Workload::new(&plain, None).unwrap();
    let mut expected = Vec::new();
    while let Some(t) = plain.next_arrival() {
        expected.push(plain.pop_arrived(t).unwrap().arrival);
    }
    assert_eq!(starts, expected);
}
