use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use super::*;

const AZURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/traces/azure-llm-2023/AzureLLMInferenceTrace_conv.csv"
);
const MOONCAKE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/traces/mooncake-fast25/conversation_trace.jsonl"
);

/// Writes `text` to a fresh file for one test case.
fn write(case: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("il-trace-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(case);
    fs::write(&path, text).unwrap();
    path
}

fn load(case: &str, format: TraceFormat, text: &str) -> Result<Trace> {
    read(&write(case, text), format, &CsvColumns::default(), None)
}

/// The error message of reading `text`, which must name the file.
fn error(case: &str, format: TraceFormat, text: &str) -> String {
    let message = load(case, format, text).unwrap_err().to_string();
    assert!(
        message.starts_with("trace ") && message.contains(case),
        "{message}"
    );
    message
}

fn assert_has(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "`{part}` not in: {message}");
    }
}

#[test]
fn the_real_azure_trace_loads() {
    let start = Instant::now();
    let trace = read(
        Path::new(AZURE),
        TraceFormat::Azure,
        &CsvColumns::default(),
        None,
    )
    .unwrap();
    eprintln!(
        "azure trace: {} requests read in {:?}",
        trace.requests.len(),
        start.elapsed()
    );
    let r = &trace.requests;
    // 19,367 lines: the header and 19,366 requests (the last line has no newline).
    assert_eq!(r.len(), 19_366);
    assert_eq!(trace.format, TraceFormat::Azure);
    assert_eq!(
        (r[0].arrival, r[0].input_len, r[0].output_len, r[0].line),
        (0.0, 374, 44, 2)
    );
    // 18:15:46.6805900 -> 18:15:50.9951690.
    assert_eq!(
        (r[1].arrival, r[1].input_len, r[1].output_len),
        (4.314579, 396, 109)
    );
    // 19:14:08.4025270, 197 / 183: 58 min 21.7219370 s after the first.
    let last = r.last().unwrap();
    assert_eq!(
        (last.arrival, last.input_len, last.output_len, last.line),
        (3501.721937, 197, 183, 19_367)
    );
    assert!(r.windows(2).all(|w| w[0].arrival <= w[1].arrival));
    assert!(r
        .iter()
        .all(|q| q.priority == 0 && q.class.is_none() && q.hash_ids.is_empty()));
}

#[test]
fn the_real_mooncake_trace_loads() {
    let trace = read(
        Path::new(MOONCAKE),
        TraceFormat::Mooncake,
        &CsvColumns::default(),
        None,
    )
    .unwrap();
    let r = &trace.requests;
    assert_eq!(r.len(), 12_031);
    assert_eq!(
        (r[0].arrival, r[0].input_len, r[0].output_len),
        (0.0, 6758, 500)
    );
    assert_eq!(r[0].hash_ids, (0..14).collect::<Vec<u64>>());
    assert_eq!(r.last().unwrap().arrival, 3536.999);
    assert!(r.iter().all(|q| !q.hash_ids.is_empty()));
    let mean = r.iter().map(|q| f64::from(q.input_len)).sum::<f64>() / r.len() as f64;
    assert!((mean - 12_035.06).abs() < 0.01, "{mean}");
    // A limit reads the first requests only.
    let first = read(
        Path::new(MOONCAKE),
        TraceFormat::Mooncake,
        &CsvColumns::default(),
        Some(3),
    )
    .unwrap();
    assert_eq!(first.requests, r[..3]);
}

#[test]
fn a_csv_trace_with_named_columns_in_any_order() {
    let text = "cls,out,sess,prio,t,in\n\
                chat,5,s1,2,100.5,10\n\
                \n\
                ,7,,-1,101.25,20\r\n\
                batch,1,s1,0,101.25,3\n";
    let columns = CsvColumns {
        arrival: "t".into(),
        input: "in".into(),
        output: "out".into(),
        priority: Some("prio".into()),
        class: Some("cls".into()),
        session: Some("sess".into()),
    };
    let trace = read(&write("named.csv", text), TraceFormat::Csv, &columns, None).unwrap();
    let want = [
        (0.0, 10, 5, 2, Some("chat"), Some("s1"), 2),
        (0.75, 20, 7, -1, None, None, 4),
        (0.75, 3, 1, 0, Some("batch"), Some("s1"), 5),
    ];
    assert_eq!(trace.requests.len(), 3);
    for (r, w) in trace.requests.iter().zip(want) {
        let got = (
            r.arrival,
            r.input_len,
            r.output_len,
            r.priority,
            r.class.as_deref(),
            r.session.as_deref(),
            r.line,
        );
        assert_eq!(got, w);
    }
    // The default names, optional columns absent.
    let plain = load(
        "plain.csv",
        TraceFormat::Csv,
        "input_tokens,arrival_secs,output_tokens\n4,-2,1\n",
    )
    .unwrap();
    assert_eq!(
        (
            plain.requests[0].arrival,
            plain.requests[0].input_len,
            plain.requests[0].priority
        ),
        (0.0, 4, 0)
    );
}

#[test]
fn wall_clock_times_are_exact_across_days_months_and_years() {
    let t = |s: &str| wall_clock(s).unwrap_or_else(|| panic!("{s}"));
    // 2023-11-16 is day 19,677 after 1970-01-01.
    assert_eq!(t("2023-11-16 00:00:00"), 19_677 * 86_400 * 1_000_000_000);
    assert_eq!(t("1970-01-01 00:00:00.000000001"), 1);
    let gap = |a: &str, b: &str| Time::Nanos(t(b)).since(Time::Nanos(t(a)));
    assert_eq!(gap("2023-11-16 23:59:59.9", "2023-11-17 00:00:00.1"), 0.2);
    assert_eq!(gap("2023-11-30 23:59:59.5", "2023-12-01T00:00:00.25"), 0.75);
    assert_eq!(gap("2023-12-31 23:59:59", "2024-01-01 00:00:01"), 2.0);
    assert_eq!(gap("2024-02-28 23:00:00", "2024-03-01 00:00:00"), 90_000.0); // leap day
    assert_eq!(gap("2023-02-28 23:00:00", "2023-03-01 00:00:00"), 3_600.0);
    assert_eq!(
        gap("2023-11-16 18:15:46.6805900", "2023-11-16 18:15:50.9951690"),
        4.314579
    );
    for bad in [
        "2023-02-29 00:00:00",
        "2023-13-01 00:00:00",
        "2023-11-16 24:00:00",
        "2023-11-16 18:15:46.1234567890",
        "2023-11-16 18:15:46.",
        "2023-11-16 18:15",
        "2023-11-16",
        "16/11/2023 18:15:46",
        "2023-11-16 18:15:4a",
    ] {
        assert_eq!(wall_clock(bad), None, "{bad}");
    }
}

#[test]
fn every_error_names_the_file_and_the_line() {
    use TraceFormat::{Azure, Csv, Mooncake};
    let h = "TIMESTAMP,ContextTokens,GeneratedTokens\n";
    let ok = "2023-11-16 18:15:46.6805900,374,44\n";
    let missing = read(
        Path::new("/no/such/trace.csv"),
        Azure,
        &CsvColumns::default(),
        None,
    )
    .unwrap_err();
    assert_has(
        missing.message(),
        &["trace /no/such/trace.csv: cannot read it"],
    );
    let cases: &[(&str, TraceFormat, String, &[&str])] = &[
        ("empty", Azure, String::new(), &["no requests"]),
        ("header-only", Azure, h.into(), &["no requests"]),
        ("blank-only", Mooncake, "\n \n".into(), &["no requests"]),
        ("bad-header", Azure, "time,in,out\n".into(), &["line 1:", "the header is `time,in,out`", AZURE_HEADER]),
        ("bad-time", Azure, format!("{h}{ok}2023-11-16 25:00:00,1,1\n"), &["line 3:", "`TIMESTAMP`", "`2023-11-16 25:00:00`"]),
        ("word", Azure, format!("{h}{ok}\n2023-11-16 18:15:47,abc,4\n"), &["line 4:", "`ContextTokens`", "`abc` is not a token count"]),
        ("negative", Azure, format!("{h}{ok}2023-11-16 18:15:47,5,-4\n"), &["line 3:", "`GeneratedTokens`", "`-4` is negative"]),
        ("fraction", Azure, format!("{h}2023-11-16 18:15:47,5.5,4\n"), &["line 2:", "`5.5` is fractional"]),
        ("huge", Azure, format!("{h}2023-11-16 18:15:47,4294967296,4\n"), &["line 2:", "`4294967296` is over the limit of 4294967295"]),
        ("zero-out", Azure, format!("{h}2023-11-16 18:15:47,5,0\n"), &["line 2:", "`GeneratedTokens` is 0", "one output token"]),
        ("zero-in", Azure, format!("{h}2023-11-16 18:15:47,0,3\n"), &["line 2:", "`ContextTokens` is 0", "one input token"]),
        ("fields", Azure, format!("{h}2023-11-16 18:15:47,5\n"), &["line 2:", "2 fields, but the header has 3"]),
        ("quoted", Csv, "arrival_secs,input_tokens,output_tokens\n1,\"1,000\",3\n".into(), &["line 2:", "quoted CSV fields are not supported"]),
        ("unsorted", Azure, format!("{h}{ok}2023-11-16 18:15:50,1,1\n2023-11-16 18:15:48.6805900,1,1\n"), &["line 4:", "arrives at 2 s", "previous request's 3.31941 s (line 3", "traces must be in time order"]),
        ("column", Csv, "when,input_tokens,output_tokens\n".into(), &["line 1:", "no column `arrival_secs`", "its columns are `when`, `input_tokens`, `output_tokens`"]),
        ("nan", Csv, "arrival_secs,input_tokens,output_tokens\n1,2,3\nNaN,2,3\n".into(), &["line 3:", "`arrival_secs`", "`NaN` is not a finite time"]),
        ("inf", Csv, "arrival_secs,input_tokens,output_tokens\ninf,2,3\n".into(), &["line 2:", "`inf` is not a finite time"]),
        ("csv-time", Csv, "arrival_secs,input_tokens,output_tokens\n1s,2,3\n".into(), &["line 2:", "`1s` is not a number of seconds"]),
        ("csv-unsorted", Csv, "arrival_secs,input_tokens,output_tokens\n5,2,3\n4.5,2,3\n".into(), &["line 3:", "arrives at -0.5 s", "traces must be in time order"]),
        ("not-json", Mooncake, "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 1}\n{\"timestamp\": 1,\n".into(), &["line 2:", "not a JSON object: EOF while parsing a value (column 16)"]),
        ("array", Mooncake, "[1, 2]\n".into(), &["line 1:", "`[1, 2]` is not a JSON object"]),
        ("no-field", Mooncake, "{\"timestamp\": 0, \"input_length\": 5}\n".into(), &["line 1:", "no `output_length` field"]),
        ("ms-text", Mooncake, "{\"timestamp\": \"0\", \"input_length\": 5, \"output_length\": 1}\n".into(), &["line 1:", "`timestamp` is `\"0\"`, not a number"]),
        ("ids", Mooncake, "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 1, \"hash_ids\": [1, -2]}\n".into(), &["line 1:", "`hash_ids`[1] is `-2`, not a non-negative integer"]),
        ("ids-type", Mooncake, "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 1, \"hash_ids\": 3}\n".into(), &["line 1:", "`hash_ids` is `3`, not an array"]),
        ("mc-fraction", Mooncake, "{\"timestamp\": 0, \"input_length\": 5.5, \"output_length\": 1}\n".into(), &["line 1:", "`input_length`: `5.5` is fractional"]),
        ("mc-zero", Mooncake, "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 0}\n".into(), &["line 1:", "`output_length` is 0"]),
        ("mc-unsorted", Mooncake, "{\"timestamp\": 2000, \"input_length\": 5, \"output_length\": 1}\n\n{\"timestamp\": 1500, \"input_length\": 5, \"output_length\": 1}\n".into(), &["line 3:", "arrives at -0.5 s", "previous request's 0 s (line 1", "time order"]),
    ];
    for (case, format, text, parts) in cases {
        assert_has(&error(case, *format, text), parts);
    }
}

#[test]
fn limits_on_the_number_of_requests() {
    let text = "arrival_secs,input_tokens,output_tokens\n0,1,1\n1,1,1\n2,1,1\n";
    let path = write("limits.csv", text);
    let columns = CsvColumns::default();
    assert_eq!(
        read(&path, TraceFormat::Csv, &columns, Some(2))
            .unwrap()
            .requests
            .len(),
        2
    );
    assert_has(
        &read(&path, TraceFormat::Csv, &columns, Some(0))
            .unwrap_err()
            .to_string(),
        &["limit = 0 reads no requests"],
    );
    assert_eq!(
        read_at_most(&path, TraceFormat::Csv, &columns, None, 3)
            .unwrap()
            .requests
            .len(),
        3
    );
    assert_has(
        &read_at_most(&path, TraceFormat::Csv, &columns, None, 2)
            .unwrap_err()
            .to_string(),
        &["limits.csv", "more than 2 requests, the limit per run"],
    );
}

#[test]
fn mooncake_hashes_follow_shared_trace_prefixes() {
    let a = mooncake_block_hashes(&[1, 2, 3], 1536, 16);
    let b = mooncake_block_hashes(&[1, 2, 9], 1536, 16);
    assert_eq!((a.len(), b.len()), (96, 96));
    assert_eq!(
        a[..64],
        b[..64],
        "the first 1024 tokens (ids 1, 2) are shared"
    );
    assert!(
        (64..96).all(|j| a[j] != b[j]),
        "from token 1024 on (id 3 vs 9) nothing is"
    );
    // Every hash is distinct within a prompt (it names the block's position).
    let mut sorted = a.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 96);

    // At the trace's own block size: one hash per id.
    let whole = mooncake_block_hashes(&[1, 2, 3], 1536, 512);
    assert_eq!(whole.len(), 3);
    assert_eq!(
        whole[..2],
        mooncake_block_hashes(&[1, 2, 9], 1536, 512)[..2]
    );
    assert_ne!(whole[2], mooncake_block_hashes(&[1, 2, 9], 1536, 512)[2]);
    // A partial last block is not hashed; nor are tokens past the ids.
    assert_eq!(mooncake_block_hashes(&[1, 2, 3], 1500, 512).len(), 2);
    assert_eq!(mooncake_block_hashes(&[7, 8], 1000, 16).len(), 62);
    assert_eq!(mooncake_block_hashes(&[7], 1000, 16).len(), 32);
    assert_eq!(mooncake_block_hashes(&[], 1000, 16).len(), 0);
    // An engine block spanning two trace blocks (768 tokens) depends on both ids.
    let wide = mooncake_block_hashes(&[1, 2, 3], 1536, 768);
    assert_eq!(wide.len(), 2);
    assert_ne!(wide[0], mooncake_block_hashes(&[1, 9, 3], 1536, 768)[0]);

    // Sharing a later id without the earlier ones shares nothing.
    let x = mooncake_block_hashes(&[4, 5], 1024, 16);
    let y = mooncake_block_hashes(&[6, 5], 1024, 16);
    assert!(x.iter().zip(&y).all(|(p, q)| p != q));

    // Fixed arithmetic: the same value everywhere (computed independently from the doc).
    assert_eq!(a[0], 0x01d0_9a9a_c214_738f);
    assert_eq!(a, mooncake_block_hashes(&[1, 2, 3], 1536, 16));
    assert!(a.iter().all(|&h| h != 0));
}
