use super::*;

fn steps(times: &[f64], rates: &[f64]) -> Cumulative {
    Cumulative::new(
        &RateSchedule::Steps {
            times: times.to_vec(),
            rates: rates.to_vec(),
        },
        Path::new(""),
    )
    .unwrap()
}

#[test]
fn steps_integrate_and_invert_by_hand() {
    // 2/s for 10 s, 0/s for 5 s, 4/s after: Λ(10) = 20, Λ(15) = 20, Λ(20) = 40.
    let c = steps(&[0.0, 10.0, 15.0], &[2.0, 0.0, 4.0]);
    assert_eq!(c.at(10.0), 20.0);
    assert_eq!(c.at(15.0), 20.0);
    assert_eq!(c.at(20.0), 40.0);
    assert_eq!(c.inverse(1.0), Some(0.5));
    assert_eq!(
        c.inverse(20.0),
        Some(10.0),
        "the first instant Λ reaches 20"
    );
    assert_eq!(
        c.inverse(24.0),
        Some(16.0),
        "none arrive while the rate is 0"
    );
    assert_eq!((c.rate(12.0), c.rate(100.0)), (0.0, 4.0));
    // Ending at 0: past the last arrival, none.
    let ends = steps(&[0.0, 10.0], &[1.0, 0.0]);
    assert_eq!(ends.inverse(10.0), Some(10.0));
    assert_eq!(ends.inverse(10.5), None);
}

#[test]
fn ramp_and_sine_invert_their_integrals() {
    let ramp = Cumulative::Ramp {
        from: 1.0,
        to: 9.0,
        d: 4.0,
    };
    // Λ(t) = t + t^2 for t <= 4: Λ(2) = 6; Λ(4) = 20; then 9/s.
    assert_eq!(ramp.at(2.0), 6.0);
    assert_eq!(ramp.at(4.0), 20.0);
    assert!((ramp.inverse(6.0).unwrap() - 2.0).abs() < 1e-12);
    assert!((ramp.inverse(29.0).unwrap() - 5.0).abs() < 1e-12);
    let from_zero = Cumulative::Ramp {
        from: 0.0,
        to: 2.0,
        d: 1.0,
    };
    assert!((from_zero.inverse(0.25).unwrap() - 0.5).abs() < 1e-12); // Λ(t) = t^2
    let sine = Cumulative::Sine {
        mid: 5.0,
        amp: 3.0,
        period: 60.0,
    };
    // A whole period holds mid x period arrivals; the first quarter mid x 15 + amp x 60 / 2pi.
    assert!((sine.at(60.0) - 300.0).abs() < 1e-9);
    let quarter = 75.0 + 3.0 * 60.0 / TAU;
    assert!((sine.at(15.0) - quarter).abs() < 1e-9);
    for u in [0.5, quarter, 299.0, 1234.5] {
        let t = sine.inverse(u).unwrap();
        assert!((sine.at(t) - u).abs() < 1e-9, "{u} -> {t}");
    }
}

#[test]
fn a_csv_schedule_reads_as_steps_and_names_bad_lines() {
    let dir = std::env::temp_dir().join(format!("il-schedule-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ok.csv"), "time,rate\n0,2\n10, 0\n\n15,4\n").unwrap();
    std::fs::write(dir.join("bad.csv"), "time,rate\n0,2\n10,lots\n").unwrap();
    std::fs::write(dir.join("unsorted.csv"), "time,rate\n0,2\n10,1\n5,3\n").unwrap();
    let csv = |name: &str| {
        Cumulative::new(
            &RateSchedule::Csv {
                path: name.to_string(),
            },
            &dir,
        )
    };
    assert_eq!(
        csv("ok.csv").unwrap(),
        steps(&[0.0, 10.0, 15.0], &[2.0, 0.0, 4.0])
    );
    let e = csv("bad.csv").unwrap_err().to_string();
    assert!(e.contains("bad.csv line 3: expected `time,rate`"), "{e}");
    let e = csv("unsorted.csv").unwrap_err().to_string();
    assert!(
        e.contains("times must increase: times[2] = 5 follows 10"),
        "{e}"
    );
    let e = csv("missing.csv").unwrap_err().to_string();
    assert!(
        e.contains("cannot read") && e.contains("missing.csv"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
