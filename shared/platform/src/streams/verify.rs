//! Checks that the server applied every option we asked for. An old or differently configured
//! server may accept a stream or consumer definition and silently ignore, clamp or normalise some
//! of it (an unknown `allow_atomic`, replicas on a single node); running on such a stream would
//! quietly weaken what the event log guarantees, so start-up fails instead.
//!
//! The comparison is generic over anything serde can serialise: both the asked and the reported
//! configuration become JSON objects and every key we asked for is compared.

use serde::Serialize;
use serde_json::Value;

/// One option the server reports differently from what was asked.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionMismatch {
    pub option: String,
    pub asked: Value,
    pub got: Value,
}

impl std::fmt::Display for OptionMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let got = if self.got.is_null() {
            "nothing (option unknown to the server?)".to_owned()
        } else {
            self.got.to_string()
        };
        write!(
            f,
            "`{}` asked {} but server reports {}",
            self.option, self.asked, got
        )
    }
}

/// Compares every option present in `asked` with `reported`.
///
/// `server_defaulted` names options where an unset value (0, false, empty) means "let the server
/// choose" (e.g. a consumer's `ack_wait`); those are compared only when we set them. For every
/// other option an unset value is a request too: `max_age: 0` on the event log means "keep
/// forever", and a server reporting an age limit there must fail the check.
pub fn compare_options<T: Serialize>(
    asked: &T,
    reported: &T,
    server_defaulted: &[&str],
) -> Vec<OptionMismatch> {
    let asked = to_object(asked);
    let reported = to_object(reported);
    let mut mismatches = Vec::new();
    for (option, asked_value) in &asked {
        if is_unset(asked_value) && server_defaulted.contains(&option.as_str()) {
            continue;
        }
        let got = reported.get(option).cloned().unwrap_or(Value::Null);
        if !same(asked_value, &got) {
            mismatches.push(OptionMismatch {
                option: option.clone(),
                asked: asked_value.clone(),
                got,
            });
        }
    }
    mismatches
}

fn to_object<T: Serialize>(value: &T) -> serde_json::Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        // Configurations are structs; anything else has no options to compare.
        _ => serde_json::Map::new(),
    }
}

/// `null`, `false`, `0`, `-1`, `""`, `[]` and `{}` all spell "not set / unlimited": the client
/// omits default values when serialising and the server reports limits as -1 or 0.
fn is_unset(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_i64().is_some_and(|n| n == 0 || n == -1) || n.as_u64() == Some(0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Nested objects are compared as "everything asked is there": the server adds keys of its own
/// (e.g. `_nats.*` entries in `metadata`).
fn same(asked: &Value, got: &Value) -> bool {
    if is_unset(asked) && is_unset(got) {
        return true;
    }
    match (asked, got) {
        (Value::Object(asked), Value::Object(got)) => asked
            .iter()
            .all(|(key, value)| same(value, got.get(key).unwrap_or(&Value::Null))),
        _ => asked == got,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, StorageType};
    use std::time::Duration;

    fn asked() -> Config {
        Config {
            name: "EVENTS".into(),
            subjects: vec!["evt.>".into()],
            retention: RetentionPolicy::Limits,
            storage: StorageType::File,
            duplicate_window: Duration::from_secs(120),
            allow_direct: true,
            deny_delete: true,
            deny_purge: true,
            allow_atomic_publish: true,
            num_replicas: 1,
            ..Default::default()
        }
    }

    #[test]
    fn identical_configs_match() {
        assert!(compare_options(&asked(), &asked(), &[]).is_empty());
    }

    #[test]
    fn unlimited_spelled_minus_one_by_the_server_matches_zero() {
        let reported = Config {
            max_bytes: -1,
            max_messages: -1,
            max_messages_per_subject: -1,
            max_consumers: -1,
            ..asked()
        };
        assert!(compare_options(&asked(), &reported, &[]).is_empty());
    }

    #[test]
    fn an_ignored_flag_is_reported_with_asked_and_got() {
        let reported = Config {
            allow_atomic_publish: false,
            ..asked()
        };
        let mismatches = compare_options(&asked(), &reported, &[]);
        assert_eq!(mismatches.len(), 1);
        assert_eq!(mismatches[0].option, "allow_atomic");
        assert_eq!(mismatches[0].asked, Value::Bool(true));
        assert!(mismatches[0].got.is_null());
        assert!(mismatches[0]
            .to_string()
            .contains("`allow_atomic` asked true"));
    }

    #[test]
    fn clamped_and_normalised_values_are_caught() {
        let reported = Config {
            num_replicas: 3,
            duplicate_window: Duration::from_secs(60),
            retention: RetentionPolicy::Interest,
            discard: DiscardPolicy::New,
            max_age: Duration::from_secs(3600),
            ..asked()
        };
        let mut options: Vec<String> = compare_options(&asked(), &reported, &[])
            .into_iter()
            .map(|m| m.option)
            .collect();
        options.sort();
        assert_eq!(
            options,
            [
                "discard",
                "duplicate_window",
                "max_age",
                "num_replicas",
                "retention"
            ]
        );
    }

    #[test]
    fn keys_the_server_adds_to_nested_objects_are_fine_but_changed_ones_are_not() {
        let mut asked = asked();
        asked.metadata.insert("owner".into(), "trainyard".into());
        let mut reported = asked.clone();
        reported
            .metadata
            .insert("_nats.ver".into(), "2.15.1".into());
        assert!(compare_options(&asked, &reported, &[]).is_empty());
        reported.metadata.insert("owner".into(), "someone".into());
        assert_eq!(
            compare_options(&asked, &reported, &[])[0].option,
            "metadata"
        );
    }

    #[test]
    fn server_defaulted_options_are_skipped_only_when_unset() {
        let reported = Config {
            max_age: Duration::from_secs(120),
            ..asked()
        };
        assert!(compare_options(&asked(), &reported, &["max_age"]).is_empty());
        assert_eq!(compare_options(&asked(), &reported, &[]).len(), 1);
        let mut asked_age = asked();
        asked_age.max_age = Duration::from_secs(60);
        assert_eq!(
            compare_options(&asked_age, &reported, &["max_age"]).len(),
            1
        );
    }
}
