//! One line of `check`'s report, shared by the check modules.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckLine {
    pub check: String,
    pub verdict: Verdict,
    pub detail: String,
}

pub fn line(check: impl Into<String>, verdict: Verdict, detail: impl Into<String>) -> CheckLine {
    CheckLine {
        check: check.into(),
        verdict,
        detail: detail.into(),
    }
}
