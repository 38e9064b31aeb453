//! The cluster benchmark's results: figures against their targets, and what each phase cost
//! the driver and each control-plane process.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::{Value, json};

use crate::measure::ApiCounters;

pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
    /// e.g. "<= 25"; empty when the issue sets none.
    pub target: String,
}

pub struct PhaseCost {
    pub name: String,
    pub seconds: f64,
    pub operations: usize,
    pub cpu: BTreeMap<String, f64>,
    pub api: ApiCounters,
    /// The driver's RSS when the phase ended, MiB.
    pub rss_after: f64,
}

#[derive(Default)]
pub struct Report {
    pub n: usize,
    pub figures: Vec<Figure>,
    pub phases: Vec<PhaseCost>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn figure(&mut self, name: impl Into<String>, value: f64, unit: &'static str, target: &str) {
        let figure = Figure {
            name: name.into(),
            value,
            unit,
            target: target.into(),
        };
        eprintln!("bench: {} = {:.3} {}", figure.name, figure.value, figure.unit);
        self.figures.push(figure);
    }

    pub fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        eprintln!("bench: note: {text}");
        self.notes.push(text);
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "\nbench-cluster at N = {}\n", self.n);
        let _ = writeln!(out, "{:<58} {:>12} {:<6} {:>10}", "figure", "value", "unit", "target");
        for f in &self.figures {
            let _ = writeln!(out, "{:<58} {:>12.2} {:<6} {:>10}", f.name, f.value, f.unit, f.target);
        }
        let processes: Vec<&String> = self
            .phases
            .iter()
            .flat_map(|p| p.cpu.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let _ = writeln!(
            out,
            "\nCPU seconds per phase (driver API requests per operation from the API server's /metrics)\n"
        );
        let _ = write!(
            out,
            "{:<24} {:>7} {:>7} {:>9} {:>9}",
            "phase", "wall s", "ops", "req/op", "RSS MiB"
        );
        for p in &processes {
            let _ = write!(out, " {:>10}", short(p));
        }
        let _ = writeln!(out);
        for phase in &self.phases {
            let per_op = phase.api.driver / phase.operations.max(1) as f64;
            let _ = write!(
                out,
                "{:<24} {:>7.1} {:>7} {:>9.2} {:>9.1}",
                phase.name, phase.seconds, phase.operations, per_op, phase.rss_after
            );
            for p in &processes {
                let _ = write!(out, " {:>10.2}", phase.cpu.get(*p).copied().unwrap_or(0.0));
            }
            let _ = writeln!(out);
        }
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        out
    }

    pub fn json(&self) -> Value {
        json!({
            "n": self.n,
            "figures": self.figures.iter().map(|f| json!({
                "name": f.name, "value": f.value, "unit": f.unit, "target": f.target,
            })).collect::<Vec<_>>(),
            "phases": self.phases.iter().map(|p| json!({
                "name": p.name, "seconds": p.seconds, "operations": p.operations,
                "cpu_seconds": p.cpu, "driver_api_requests": p.api.driver,
                "api_requests_by_verb": p.api.by_verb, "driver_rss_mib_after": p.rss_after,
            })).collect::<Vec<_>>(),
            "notes": self.notes,
        })
    }
}

fn short(process: &str) -> &str {
    match process {
        "kube-apiserver" => "apiserver",
        "kube-controller-manager" => "kcm",
        "kube-scheduler" => "scheduler",
        "agent-sandbox-controller" => "controller",
        other => other,
    }
}
