//! How GitOps tools read an object's health, as pure functions over the object's JSON as the
//! apiserver returns it: kstatus's rules (sigs.k8s.io/cli-utils `pkg/kstatus`), Flux's
//! `healthCheckExprs` evaluation, and a harness that runs an Argo CD health script with Lua.

use std::path::Path;

use serde_json::Value;

/// kstatus's result for a custom resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KStatus {
    InProgress,
    Failed,
    Current,
    Terminating,
}

/// `status.observedGeneration` is there and is not `metadata.generation` (both tools skip the
/// check when the status has no observedGeneration).
fn generation_not_observed(obj: &Value) -> bool {
    let observed = obj["status"]["observedGeneration"].as_i64();
    observed.is_some() && observed != obj["metadata"]["generation"].as_i64()
}

/// kstatus's generic rules, the ones it applies to any custom resource: deletion first, then
/// a generation not yet observed, then `Reconciling=True`, then `Stalled=True`; anything else
/// is current (kstatus does not read `Ready`).
pub fn kstatus(obj: &Value) -> KStatus {
    if obj["metadata"]["deletionTimestamp"].is_string() {
        return KStatus::Terminating;
    }
    if generation_not_observed(obj) {
        return KStatus::InProgress;
    }
    for c in obj["status"]["conditions"].as_array().into_iter().flatten() {
        match (c["type"].as_str(), c["status"].as_str()) {
            (Some("Reconciling"), Some("True")) => return KStatus::InProgress,
            (Some("Stalled"), Some("True")) => return KStatus::Failed,
            _ => {}
        }
    }
    KStatus::Current
}

/// One entry of a Flux Kustomization's `spec.healthCheckExprs`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckExpr {
    pub api_version: String,
    pub kind: String,
    pub in_progress: Option<String>,
    pub failed: Option<String>,
    pub current: String,
}

/// Flux's custom health check: a generation not yet observed is in progress; then
/// `inProgress`, `failed` and `current` are evaluated in that order with the object's
/// top-level fields as variables, the first true one wins, and none true is in progress.
pub fn flux_status(check: &HealthCheckExpr, obj: &Value) -> KStatus {
    if generation_not_observed(obj) {
        return KStatus::InProgress;
    }
    let mut context = cel::Context::default();
    for (name, value) in obj.as_object().expect("an object") {
        context.add_variable(name.as_str(), value.clone()).expect("a CEL value");
    }
    let ordered = [
        (check.in_progress.as_deref(), KStatus::InProgress),
        (check.failed.as_deref(), KStatus::Failed),
        (Some(check.current.as_str()), KStatus::Current),
    ];
    for (expr, status) in ordered {
        let Some(expr) = expr else { continue };
        let program = cel::Program::compile(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        match program.execute(&context) {
            Ok(cel::Value::Bool(true)) => return status,
            Ok(cel::Value::Bool(false)) => {}
            other => panic!("{expr} on {obj}: {other:?}, not a boolean"),
        }
    }
    KStatus::InProgress
}

/// `value` as a Lua table constructor, the shape Argo CD hands a health script as `obj`.
pub fn lua_literal(value: &Value) -> String {
    match value {
        Value::Null => "nil".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        // Rust's escapes (\", \\, \n, \u{..}) are Lua 5.4's too.
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) => format!("{{{}}}", items.iter().map(lua_literal).collect::<Vec<_>>().join(", ")),
        Value::Object(fields) => {
            let fields: Vec<String> = fields.iter().map(|(k, v)| format!("[{k:?}] = {}", lua_literal(v))).collect();
            format!("{{{}}}", fields.join(", "))
        }
    }
}

/// Runs the Argo CD health `script` with `lua5.4` on the object in `fixture` (JSON) and
/// returns its `(status, message)`.
pub fn argo_health(script: &Path, fixture: &Path) -> (String, String) {
    let json: Value = serde_json::from_slice(&std::fs::read(fixture).expect("fixture")).expect("fixture JSON");
    let table = fixture.with_extension("lua");
    std::fs::write(&table, format!("obj = {}\n", lua_literal(&json))).expect("write the Lua table");
    // As Argo CD runs it: `obj` set globally, the script's returned table read back.
    let harness = fixture.with_extension("harness.lua");
    let run = "dofile(arg[1]); local hs = dofile(arg[2]); io.write(hs.status, '\\n', hs.message or '')";
    std::fs::write(&harness, run).expect("write the harness");
    let out = std::process::Command::new("lua5.4")
        .arg(&harness)
        .arg(&table)
        .arg(script)
        .output()
        .expect("lua5.4 (tests/run.sh installs it)");
    assert!(out.status.success(), "lua5.4 on {}: {}", fixture.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (status, message) = text.split_once('\n').unwrap_or((text.as_str(), ""));
    (status.to_owned(), message.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(generation: i64, observed: i64, conditions: Value) -> Value {
        json!({"metadata": {"generation": generation}, "status": {"observedGeneration": observed, "conditions": conditions}})
    }

    #[test]
    fn kstatus_reads_deletion_generation_reconciling_and_stalled_in_that_order() {
        let ready = json!([{"type": "Ready", "status": "True"}]);
        assert_eq!(kstatus(&obj(1, 1, ready.clone())), KStatus::Current);
        assert_eq!(kstatus(&obj(2, 1, ready.clone())), KStatus::InProgress);
        let stalled = json!([{"type": "Stalled", "status": "True"}, {"type": "Ready", "status": "False"}]);
        assert_eq!(kstatus(&obj(1, 1, stalled.clone())), KStatus::Failed);
        assert_eq!(kstatus(&obj(2, 1, stalled)), KStatus::InProgress, "the new generation may fix it");
        let both = json!([{"type": "Reconciling", "status": "True"}, {"type": "Stalled", "status": "True"}]);
        assert_eq!(kstatus(&obj(1, 1, both)), KStatus::InProgress);
        assert_eq!(kstatus(&obj(1, 1, json!([{"type": "Ready", "status": "False"}]))), KStatus::Current);
        let mut deleting = obj(1, 1, ready);
        deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        assert_eq!(kstatus(&deleting), KStatus::Terminating);
    }

    #[test]
    fn lua_literals_escape_strings_and_nest() {
        let v = json!({"a": [1, true, null], "b\"": "x\ny \u{1}"});
        assert_eq!(lua_literal(&v), r#"{["a"] = {1, true, nil}, ["b\""] = "x\ny \u{1}"}"#);
    }
}
