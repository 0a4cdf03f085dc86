//! The numeric calibration parameters of `[hardware]`, by name, with their ranges.

use crate::config::check::{EFFICIENCY, OVERHEAD_SECONDS};
use crate::config::HardwareConfig;

/// A numeric calibration parameter (causal_attention, a switch, is handled on its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Param {
    ComputeEfficiency,
    AttentionEfficiency,
    MemoryEfficiency,
    KvMemoryEfficiency,
    AttentionOverlap,
    RooflineSoftness,
    StepOverhead,
    LayerOverhead,
    SequenceOverhead,
}

/// The values a parameter may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// [0.01, 1]: an efficiency (config::check::EFFICIENCY)
    Fraction,
    /// [0, 1]
    UnitInterval,
    /// [0, 1] seconds: an overhead (config::check::OVERHEAD_SECONDS)
    Seconds,
}

impl Param {
    pub const ALL: [Param; 9] = [
        Param::ComputeEfficiency,
        Param::AttentionEfficiency,
        Param::MemoryEfficiency,
        Param::KvMemoryEfficiency,
        Param::AttentionOverlap,
        Param::RooflineSoftness,
        Param::StepOverhead,
        Param::LayerOverhead,
        Param::SequenceOverhead,
    ];

    /// What `calibrate fit` varies unless told otherwise. memory_efficiency and step_overhead
    /// are held: with one model's rows the weights' read time and a fixed per-step time are
    /// both constants, and no fit can tell them apart. sequence_overhead is held (at 0 by
    /// default): on the H100 rows it trades off against kv_memory_efficiency and made the
    /// held-out errors worse (README, "Calibrated step times").
    pub const FITTED_BY_DEFAULT: [Param; 5] = [
        Param::ComputeEfficiency,
        Param::AttentionEfficiency,
        Param::KvMemoryEfficiency,
        Param::RooflineSoftness,
        Param::LayerOverhead,
    ];

    /// The key in `[hardware]`.
    pub fn name(self) -> &'static str {
        match self {
            Param::ComputeEfficiency => "compute_efficiency",
            Param::AttentionEfficiency => "attention_efficiency",
            Param::MemoryEfficiency => "memory_efficiency",
            Param::KvMemoryEfficiency => "kv_memory_efficiency",
            Param::AttentionOverlap => "attention_overlap",
            Param::RooflineSoftness => "roofline_softness",
            Param::StepOverhead => "step_overhead",
            Param::LayerOverhead => "layer_overhead",
            Param::SequenceOverhead => "sequence_overhead",
        }
    }

    pub fn from_name(name: &str) -> Option<Param> {
        Param::ALL.into_iter().find(|p| p.name() == name)
    }

    pub fn range(self) -> Range {
        match self {
            Param::ComputeEfficiency
            | Param::AttentionEfficiency
            | Param::MemoryEfficiency
            | Param::KvMemoryEfficiency => Range::Fraction,
            Param::AttentionOverlap | Param::RooflineSoftness => Range::UnitInterval,
            Param::StepOverhead | Param::LayerOverhead | Param::SequenceOverhead => Range::Seconds,
        }
    }

    /// One line on what the parameter means.
    pub fn meaning(self) -> &'static str {
        match self {
            Param::ComputeEfficiency => "fraction of compute_flops the weight matmuls reach",
            Param::AttentionEfficiency => "fraction of compute_flops attention reaches",
            Param::MemoryEfficiency => "fraction of memory_bandwidth reading the weights",
            Param::KvMemoryEfficiency => "fraction of memory_bandwidth reading the KV cache",
            Param::AttentionOverlap => "share of attention inside the matmuls' roofline",
            Param::RooflineSoftness => "0 = max(compute, memory), 1 = their sum",
            Param::StepOverhead => "seconds per step",
            Param::LayerOverhead => "seconds per step per layer",
            Param::SequenceOverhead => "seconds per step per sequence",
        }
    }

    pub fn get(self, hw: &HardwareConfig) -> f64 {
        match self {
            Param::ComputeEfficiency => hw.compute_efficiency,
            Param::AttentionEfficiency => hw.attention_efficiency,
            Param::MemoryEfficiency => hw.memory_efficiency,
            Param::KvMemoryEfficiency => hw.kv_memory_efficiency,
            Param::AttentionOverlap => hw.attention_overlap,
            Param::RooflineSoftness => hw.roofline_softness,
            Param::StepOverhead => hw.step_overhead,
            Param::LayerOverhead => hw.layer_overhead,
            Param::SequenceOverhead => hw.sequence_overhead,
        }
    }

    pub fn set(self, hw: &mut HardwareConfig, value: f64) {
        let field = match self {
            Param::ComputeEfficiency => &mut hw.compute_efficiency,
            Param::AttentionEfficiency => &mut hw.attention_efficiency,
            Param::MemoryEfficiency => &mut hw.memory_efficiency,
            Param::KvMemoryEfficiency => &mut hw.kv_memory_efficiency,
            Param::AttentionOverlap => &mut hw.attention_overlap,
            Param::RooflineSoftness => &mut hw.roofline_softness,
            Param::StepOverhead => &mut hw.step_overhead,
            Param::LayerOverhead => &mut hw.layer_overhead,
            Param::SequenceOverhead => &mut hw.sequence_overhead,
        };
        *field = value;
    }

    /// Where the solver starts (a typical GPU; the fit also tries other softnesses), and the
    /// parameter's scale in the solver.
    pub(super) fn start(self) -> f64 {
        match self {
            Param::ComputeEfficiency => 0.7,
            Param::AttentionEfficiency => 0.5,
            Param::MemoryEfficiency => 0.9,
            Param::KvMemoryEfficiency => 0.8,
            Param::AttentionOverlap => 0.5,
            Param::RooflineSoftness => 0.5,
            Param::StepOverhead => 1e-4,
            Param::LayerOverhead => 1e-5,
            Param::SequenceOverhead => 1e-6,
        }
    }

    /// The solver works on z = value / start (so every z starts near 1), inside the bounds
    /// of [`z_bounds`](Self::z_bounds).
    pub(super) fn value_at(self, z: f64) -> f64 {
        z * self.start()
    }

    pub(super) fn z_of(self, value: f64) -> f64 {
        value / self.start()
    }

    /// The values a config may hold, the same bounds `[hardware]` validation enforces, so a
    /// fitted config always loads.
    fn bounds(self) -> (f64, f64) {
        match self.range() {
            Range::Fraction => EFFICIENCY,
            Range::UnitInterval => (0.0, 1.0),
            Range::Seconds => OVERHEAD_SECONDS,
        }
    }

    /// The allowed range in z.
    pub(super) fn z_bounds(self) -> (f64, f64) {
        let (lo, hi) = self.bounds();
        (lo / self.start(), hi / self.start())
    }

    /// Whether `value` is allowed.
    pub fn allows(self, value: f64) -> bool {
        let (lo, hi) = self.bounds();
        value.is_finite() && value >= lo && value <= hi
    }

    /// The allowed values, for messages.
    pub fn range_text(self) -> &'static str {
        match self.range() {
            Range::Fraction => "in [0.01, 1]",
            Range::UnitInterval => "in [0, 1]",
            Range::Seconds => "seconds in [0, 1]",
        }
    }
}

/// Rounds to `digits` significant digits (the double nearest the rounded decimal), so a
/// written config reads well and gives exactly the numbers the fit reports.
pub fn round_significant(value: f64, digits: usize) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    format!("{:.*e}", digits.max(1) - 1, value)
        .parse()
        .unwrap_or(value)
}
