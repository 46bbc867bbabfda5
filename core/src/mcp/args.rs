//! Reading a tool's JSON arguments: each wrong type is a [`CallError::InvalidParams`] that names
//! the argument, what it must be and what it was; unknown arguments are refused with the closest
//! known name, so a typo (`wait-for`) is not silently ignored.

use serde_json::{Map, Value};

use super::CallError;

pub(crate) struct Args<'a> {
    pub tool: &'static str,
    map: &'a Map<String, Value>,
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'a> Args<'a> {
    /// `known` lists every argument the tool takes; anything else is refused.
    pub fn new(tool: &'static str, map: &'a Map<String, Value>, known: &[&str]) -> Result<Args<'a>, CallError> {
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                // A prefix either way (`wait` for `wait_for`), else the closest by edit distance.
                let near = known
                    .iter()
                    .find(|k| k.starts_with(key.as_str()) || key.starts_with(**k))
                    .map(|k| k.to_string())
                    .or_else(|| crate::discovery::suggest_script(known, key).into_iter().next());
                let hint = near.map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
                let all = if known.is_empty() { "none".to_string() } else { known.join(", ") };
                return Err(CallError::InvalidParams {
                    tool: tool.to_string(),
                    message: format!("unknown argument `{key}`{hint} (it takes: {all})"),
                });
            }
        }
        Ok(Args { tool, map })
    }

    pub fn invalid(&self, message: impl Into<String>) -> CallError {
        CallError::InvalidParams { tool: self.tool.to_string(), message: message.into() }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn str(&self, key: &str) -> Result<Option<&'a str>, CallError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.invalid(format!("`{key}` must be a string, not {}", kind(v)))),
        }
    }

    pub fn req_str(&self, key: &str) -> Result<&'a str, CallError> {
        self.str(key)?.ok_or_else(|| self.invalid(format!("`{key}` is required")))
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, CallError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.invalid(format!("`{key}` must be a boolean, not {}", kind(v)))),
        }
    }

    /// A non-negative integer at most `max`.
    pub fn u64(&self, key: &str, max: u64) -> Result<Option<u64>, CallError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) if v <= max => Ok(Some(v)),
                Some(v) => Err(self.invalid(format!("`{key}` must be at most {max}, not {v}"))),
                None => Err(self.invalid(format!("`{key}` must be a non-negative integer, not {n}"))),
            },
            Some(v) => Err(self.invalid(format!("`{key}` must be a non-negative integer, not {}", kind(v)))),
        }
    }

    pub fn str_list(&self, key: &str) -> Result<Option<Vec<String>>, CallError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(self.invalid(format!("`{key}` must be an array of strings; found {}", kind(other)))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(self.invalid(format!("`{key}` must be an array of strings, not {}", kind(v)))),
        }
    }

    pub fn value(&self, key: &str) -> Option<&'a Value> {
        self.get(key)
    }

    /// One of `choices`, by name.
    pub fn choice(&self, key: &str, choices: &[&str]) -> Result<Option<&'a str>, CallError> {
        match self.str(key)? {
            None => Ok(None),
            Some(s) if choices.contains(&s) => Ok(Some(s)),
            Some(s) => Err(self.invalid(format!("`{key}` must be one of {}, not `{s}`", choices.join(", ")))),
        }
    }
}
