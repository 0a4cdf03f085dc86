//! Trace replay: recorded instants and lengths exactly (scaled), windows, Mooncake prefix
//! sharing by hand, priorities from a CSV trace, and what is refused.

use super::drain;
use crate::workload::trace::{self, CsvColumns, TraceFormat};
use crate::workload::Workload;
use crate::Config;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const AZURE: &str = "data/traces/azure-llm-2023/AzureLLMInferenceTrace_conv.csv";

/// The hand toy (4096-token context) replaying a trace with these `[workload]` keys.
fn replaying(workload: &str) -> crate::Result<Config> {
    let text = crate::testing::toy_text(&format!("arrival_pattern = \"trace\"\n{workload}"))
        .replace("max_seq_len = 1000", "num_kv_heads = 2\nmax_seq_len = 4096");
    Config::from_toml_str_in(&text, std::path::Path::new(ROOT))
}

#[test]
fn replay_reproduces_the_recorded_instants_and_lengths_scaled() {
    let c = replaying(&format!(
        "trace_path = \"{AZURE}\"\ntrace_format = \"azure\"\ntrace_time_scale = 2.0\n\
         num_requests = 500"
    ))
    .unwrap();
    let replayed = drain(&mut Workload::new(&c, None).unwrap());
    let recorded = trace::read(
        &std::path::Path::new(ROOT).join(AZURE),
        TraceFormat::Azure,
        &CsvColumns::default(),
        Some(500),
    )
    .unwrap();
    assert_eq!(replayed.len(), 500);
    for (r, t) in replayed.iter().zip(&recorded.requests) {
        assert_eq!(r.arrival, t.arrival / 2.0, "twice as fast");
        let (prompt, output) = crate::workload::clip_to_model(t.input_len, t.output_len, 4096);
        assert_eq!((r.prompt_len, r.output_len), (prompt, output));
    }
    assert_eq!(replayed[1].arrival, 4.314579 / 2.0);
}

#[test]
fn a_window_replays_its_part_of_the_trace_from_zero() {
    let c = replaying(&format!(
        "trace_path = \"{AZURE}\"\ntrace_format = \"azure\"\ntrace_start_secs = 600\n\
         trace_duration_secs = 60"
    ))
    .unwrap();
    let replayed = drain(&mut Workload::new(&c, None).unwrap());
    let all = trace::read(
        &std::path::Path::new(ROOT).join(AZURE),
        TraceFormat::Azure,
        &CsvColumns::default(),
        None,
    )
    .unwrap();
    let window: Vec<_> = all
        .requests
        .iter()
        .filter(|r| r.arrival >= 600.0 && r.arrival < 660.0)
        .collect();
    assert_eq!(replayed.len(), window.len());
    assert!(replayed.len() > 100, "{}", replayed.len());
    assert_eq!(replayed[0].arrival, window[0].arrival - 600.0);
    assert!(replayed.iter().all(|r| r.arrival < 60.0));
    let e = replaying(&format!(
        "trace_path = \"{AZURE}\"\ntrace_format = \"azure\"\ntrace_start_secs = 99999"
    ))
    .and_then(|c| Workload::new(&c, None).map(|_| ()))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("no request arrives within trace_start_secs = 99999"),
        "{e}"
    );
}

/// Three prompts, far apart in time: [1, 2] (1024 tokens), [1, 2, 3] (1536) and [1, 9]
/// (1024). At 16-token blocks the second finds the first's 1024 tokens (64 blocks) cached and
/// the third its first 512 (block id 1 only): 1536 hit tokens.
#[test]
fn mooncake_hash_ids_are_the_prefix_caches_sharing() {
    let dir = std::env::temp_dir().join(format!("il-mooncake-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("small.jsonl");
    std::fs::write(
        &path,
        "{\"timestamp\": 0, \"input_length\": 1024, \"output_length\": 4, \"hash_ids\": [1, 2]}\n\
         {\"timestamp\": 100000, \"input_length\": 1536, \"output_length\": 4, \"hash_ids\": [1, 2, 3]}\n\
         {\"timestamp\": 200000, \"input_length\": 1024, \"output_length\": 4, \"hash_ids\": [1, 9]}\n",
    )
    .unwrap();
    let c = replaying(&format!(
        "trace_path = \"{}\"\ntrace_format = \"mooncake\"",
        path.display()
    ))
    .unwrap();
    let summary = crate::Simulator::new(&c).unwrap().run().unwrap();
    assert_eq!(summary.requests_completed, 3);
    assert_eq!(summary.prefix_cache_hits, 1536);
    assert_eq!(summary.prefix_cache_misses, 1024 + 512 + 512);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_csv_trace_names_its_columns_and_gives_priorities() {
    let dir = std::env::temp_dir().join(format!("il-csv-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.csv");
    std::fs::write(
        &path,
        "when,out,in,prio\n10.5,7,100,2\n11,3,5000,0\n12.25,1,20,1\n",
    )
    .unwrap();
    let c = replaying(&format!(
        "trace_path = \"{}\"\ntrace_format = \"csv\"\n\
         trace_columns = {{ arrival = \"when\", input = \"in\", output = \"out\", priority = \"prio\" }}",
        path.display()
    ))
    .unwrap();
    let mut w = Workload::new(&c, None).unwrap();
    let r = drain(&mut w);
    let got: Vec<_> = r
        .iter()
        .map(|r| (r.arrival, r.prompt_len, r.output_len, r.priority))
        .collect();
    // The 5000-token prompt is cut to 4095 (and counted).
    assert_eq!(got, [(0.0, 100, 7, 2), (0.5, 4095, 1, 0), (1.75, 20, 1, 1)]);
    assert_eq!(w.clipped(), 1);
    let summary = crate::Simulator::new(&c).unwrap().run().unwrap();
    assert_eq!(summary.requests_clipped, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn trace_keys_are_checked_together() {
    let e = |w: &str| replaying(w).unwrap_err().to_string();
    assert!(e("num_requests = 3").contains("needs workload.trace_path"));
    assert!(e(&format!("trace_path = \"{AZURE}\"")).contains("workload.trace_format is missing"));
    let bad_scale = e(&format!(
        "trace_path = \"{AZURE}\"\ntrace_format = \"azure\"\ntrace_time_scale = 0"
    ));
    assert!(
        bad_scale.contains("workload.trace_time_scale = 0 is invalid"),
        "{bad_scale}"
    );
    let columns = e(&format!(
        "trace_path = \"{AZURE}\"\ntrace_format = \"azure\"\ntrace_columns = {{ arrival = \"t\" }}"
    ));
    assert!(
        columns.contains("applies to trace_format = \"csv\" only"),
        "{columns}"
    );
    let text = crate::testing::toy_text(
        "arrival_pattern = \"poisson\"\narrival_rate = 1\nnum_requests = 2\n\
         trace_path = \"x.csv\"\ninput_len_dist = { type = \"fixed\", value = 5 }\n\
         output_len_dist = { type = \"fixed\", value = 5 }",
    );
    let e = Config::from_toml_str(&text).unwrap_err().to_string();
    assert!(
        e.contains("workload.trace_path is set but arrival_pattern = \"poisson\""),
        "{e}"
    );
    let text = crate::testing::toy_text(
        "arrival_pattern = \"poisson\"\narrival_rate = 1\nnum_requests = 2",
    );
    let e = Config::from_toml_str(&text).unwrap_err().to_string();
    assert!(
        e.contains("missing required key `input_len_dist` in [workload]"),
        "{e}"
    );
}

#[test]
fn a_csv_traces_class_column_gives_per_class_metrics() {
    let dir = std::env::temp_dir().join(format!("il-class-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let good = write(
        "t.csv",
        "arrival_secs,input_tokens,output_tokens,tier\n0,50,5,chat\n1,60,5,batch\n2,70,5,chat\n",
    );
    let c = replaying(&format!(
        "trace_path = \"{}\"\ntrace_format = \"csv\"\ntrace_columns = {{ class = \"tier\" }}",
        good.display()
    ))
    .unwrap();
    let s = crate::Simulator::new(&c).unwrap().run().unwrap();
    let got: Vec<_> = s
        .classes
        .iter()
        .map(|k| (k.name.as_str(), k.requests_completed))
        .collect();
    assert_eq!(got, [("chat", 2), ("batch", 1)]);
    let bad = write(
        "bad.csv",
        "arrival_secs,input_tokens,output_tokens,tier\n0,50,5,chat\n1,60,5,\n",
    );
    let c = replaying(&format!(
        "trace_path = \"{}\"\ntrace_format = \"csv\"\ntrace_columns = {{ class = \"tier\" }}",
        bad.display()
    ))
    .unwrap();
    let e = crate::Simulator::new(&c).err().unwrap().to_string();
    assert!(
        e.contains("line 3: no class, where earlier requests have one"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_csv_traces_session_column_shares_a_conversations_history() {
    let dir = std::env::temp_dir().join(format!("il-session-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.csv");
    // Conversation "a" comes back with its history (100 + 10 tokens) and 30 new ones; "b"
    // has the same first turn but is another conversation; the last request has none.
    std::fs::write(
        &path,
        "arrival_secs,input_tokens,output_tokens,conv\n\
         0,100,10,a\n0,100,10,b\n10,140,10,a\n20,140,10,\n",
    )
    .unwrap();
    let c = replaying(&format!(
        "trace_path = \"{}\"\ntrace_format = \"csv\"\ntrace_columns = {{ session = \"conv\" }}",
        path.display()
    ))
    .unwrap();
    let specs = drain(&mut Workload::new(&c, None).unwrap());
    let sessions: Vec<_> = specs.iter().map(|r| r.session).collect();
    assert_eq!(sessions, [Some(0), Some(1), Some(0), None]);
    let s = crate::Simulator::new(&c).unwrap().run().unwrap();
    assert_eq!(s.requests_completed, 4);
    // Turn 1 of "a" leaves 109 tokens computed: 6 full blocks of 16, which turn 2 finds.
    assert_eq!(s.prefix_cache_hits, 6 * 16);
    std::fs::remove_dir_all(&dir).unwrap();
}
