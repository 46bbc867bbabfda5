//! The names brum gives to what it runs: instances, the process references events carry,
//! output streams, and places in source files. Shared by the supervisor, detection, the log
//! store and the bus, none of which needs another to name these.

use std::fmt;
use std::sync::Arc;

/// One supervised instance of a script, from the supervisor's counter: unique for the life of
/// a supervisor, increasing in start order, never reused (a restart is a new instance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct InstanceId(pub u64);

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl From<u64> for InstanceId {
    fn from(n: u64) -> Self {
        InstanceId(n)
    }
}

impl PartialEq<u64> for InstanceId {
    fn eq(&self, other: &u64) -> bool {
        self.0 == *other
    }
}

/// A supervised process instance: its id plus its script's name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct ProcessRef {
    #[serde(rename = "instance")]
    pub id: InstanceId,
    #[serde(rename = "process")]
    pub name: Arc<str>,
}

impl ProcessRef {
    pub fn new(id: impl Into<InstanceId>, name: impl Into<Arc<str>>) -> Self {
        ProcessRef { id: id.into(), name: name.into() }
    }
}

impl fmt::Display for ProcessRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.name, self.id.0)
    }
}

/// Which of a child's output streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Where something points: a file as the tool printed it (a `file://` prefix removed), with a
/// line and column when the tool gave them. Lines and columns are the tool's own numbering
/// (webpack's columns are 0-based, everyone else's 1-based).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Location {
    pub file: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        Ok(())
    }
}
