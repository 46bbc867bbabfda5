//! The detection corpus: real output of real tools in `tests/fixtures/detect/*.log` (see the
//! README there for each sample's provenance), each with a ground truth written by hand from
//! reading the log (`<name>.expect.toml`).
//!
//! Every sample is fed to a fresh `Detector` with every line on **stderr**, so a detector that
//! took stderr for an error would fail here. What it finds is pinned per sample with insta,
//! and scored against the ground truth: true and false positives and false negatives per kind
//! and overall, printed and pinned as a table, with thresholds asserted.
//!
//!     cargo test -p brum-core --test detect_corpus -- --nocapture

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use brum_core::bus::Stream;
use brum_core::detect::{Detection, Detector};
use toml_edit::{DocumentMut, Item, Table};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/detect")
}

fn samples() -> Vec<(String, PathBuf)> {
    let mut out: Vec<_> = std::fs::read_dir(fixtures())
        .expect("fixtures/detect exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .map(|p| (p.file_stem().expect("a file name").to_string_lossy().into_owned(), p))
        .collect();
    out.sort();
    out
}

fn detect(text: &str) -> Vec<Detection> {
    let mut d = Detector::new();
    let mut out = Vec::new();
    for line in text.split('\n') {
        out.extend(d.feed(line, Stream::Stderr));
    }
    out.extend(d.finish());
    out
}

fn render(found: &[Detection]) -> String {
    let mut s = String::new();
    for d in found {
        match d {
            Detection::Error(g) => {
                writeln!(s, "{d}  [{} lines, {} dropped]", g.lines.len(), g.lines_dropped).unwrap();
            }
            _ => writeln!(s, "{d}").unwrap(),
        }
    }
    if s.is_empty() {
        s.push_str("(nothing detected)\n");
    }
    s
}

/// One hand-written expectation.
#[derive(Debug)]
struct Expect {
    /// `error:<kind>`, `url`, `build`, `test`: the row it is scored in.
    class: String,
    fields: BTreeMap<String, String>,
}

fn expectations(name: &str) -> Vec<Expect> {
    let path = fixtures().join(format!("{name}.expect.toml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: DocumentMut = text.parse().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // Tables in file order: toml_edit keeps each array-of-tables entry's position.
    let mut all: Vec<(isize, Expect)> = Vec::new();
    for (key, item) in doc.iter() {
        let Item::ArrayOfTables(arr) = item else { panic!("{name}: `{key}` is not [[{key}]]") };
        for t in arr.iter() {
            let fields = fields_of(t);
            let class = match key {
                "error" => format!("error:{}", fields.get("kind").expect("error entries have a kind")),
                "url" | "build" | "test" => key.to_string(),
                other => panic!("{name}: unknown expectation [[{other}]]"),
            };
            all.push((t.position().unwrap_or(0), Expect { class, fields }));
        }
    }
    all.sort_by_key(|(pos, _)| *pos);
    all.into_iter().map(|(_, e)| e).collect()
}

fn fields_of(t: &Table) -> BTreeMap<String, String> {
    t.iter()
        .map(|(k, v)| {
            let v = v.as_value().expect("scalar");
            let s = v.as_str().map(str::to_string).or_else(|| v.as_integer().map(|i| i.to_string()));
            (k.to_string(), s.expect("string or integer"))
        })
        .collect()
}

fn class_of(d: &Detection) -> String {
    match d {
        Detection::Error(g) => format!("error:{}", g.kind),
        Detection::Url(_) => "url".into(),
        Detection::Build(_) => "build".into(),
        Detection::Test(_) => "test".into(),
    }
}

fn opt(v: Option<u32>) -> Option<String> {
    v.map(|v| v.to_string())
}

/// Whether a detection satisfies an expectation of the same class. Error fields that the
/// expectation leaves out are not checked (a generic error has no location); test counts it
/// leaves out must be unknown in the detection too.
fn matches(d: &Detection, e: &Expect) -> bool {
    let f = |k: &str| e.fields.get(k).cloned();
    match d {
        Detection::Error(g) => {
            let loc = g.location.as_ref();
            f("file").is_none_or(|v| loc.is_some_and(|l| l.file == v))
                && f("line").is_none_or(|v| loc.and_then(|l| opt(l.line)) == Some(v))
                && f("column").is_none_or(|v| loc.and_then(|l| opt(l.column)) == Some(v))
                && f("message").is_none_or(|v| g.message.contains(&v))
        }
        Detection::Url(u) => f("url") == Some(u.url.clone()),
        Detection::Build(b) => {
            f("tool").as_deref() == Some(b.tool.name()) && f("outcome").as_deref() == Some(b.outcome.name())
        }
        Detection::Test(t) => {
            f("framework").as_deref() == Some(t.framework.name())
                && f("passed") == opt(t.passed)
                && f("failed") == Some(t.failed.to_string())
                && f("skipped") == opt(t.skipped)
                && f("total") == opt(t.total)
                && f("suite") == t.suite.clone()
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Score {
    tp: u32,
    fp: u32,
    fn_: u32,
}

impl Score {
    fn add(&mut self, o: Score) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
    }
    fn precision(self) -> f64 {
        if self.tp + self.fp == 0 { 1.0 } else { f64::from(self.tp) / f64::from(self.tp + self.fp) }
    }
    fn recall(self) -> f64 {
        if self.tp + self.fn_ == 0 { 1.0 } else { f64::from(self.tp) / f64::from(self.tp + self.fn_) }
    }
}

/// Matches greedily in order: each expectation takes the first unmatched detection of its
/// class that satisfies it. Returns the misses for the report.
fn score(name: &str, found: &[Detection], expect: &[Expect], table: &mut BTreeMap<String, Score>) -> Vec<String> {
    let mut used = vec![false; found.len()];
    let mut misses = Vec::new();
    for e in expect {
        let hit = found.iter().enumerate().find(|(i, d)| !used[*i] && class_of(d) == e.class && matches(d, e));
        match hit {
            Some((i, _)) => {
                used[i] = true;
                table.entry(e.class.clone()).or_default().tp += 1;
            }
            None => {
                table.entry(e.class.clone()).or_default().fn_ += 1;
                misses.push(format!("{name}: missed {} {:?}", e.class, e.fields));
            }
        }
    }
    for (i, d) in found.iter().enumerate() {
        if !used[i] {
            table.entry(class_of(d)).or_default().fp += 1;
            misses.push(format!("{name}: false positive {d}"));
        }
    }
    misses
}

fn render_table(table: &BTreeMap<String, Score>, samples: usize, holdout: Score) -> String {
    let mut total = Score::default();
    let mut s = format!("{samples} samples\n");
    writeln!(s, "{:<26} {:>4} {:>4} {:>4} {:>9} {:>7}", "kind", "TP", "FP", "FN", "precision", "recall").unwrap();
    for (k, v) in table {
        total.tp += v.tp;
        total.fp += v.fp;
        total.fn_ += v.fn_;
        writeln!(s, "{k:<26} {:>4} {:>4} {:>4} {:>9.3} {:>7.3}", v.tp, v.fp, v.fn_, v.precision(), v.recall()).unwrap();
    }
    writeln!(
        s,
        "{:<26} {:>4} {:>4} {:>4} {:>9.3} {:>7.3}",
        "overall",
        total.tp,
        total.fp,
        total.fn_,
        total.precision(),
        total.recall()
    )
    .unwrap();
    writeln!(
        s,
        "{:<26} {:>4} {:>4} {:>4} {:>9.3} {:>7.3}",
        "holdout-* samples only",
        holdout.tp,
        holdout.fp,
        holdout.fn_,
        holdout.precision(),
        holdout.recall()
    )
    .unwrap();
    s
}

#[test]
fn corpus_detections_and_precision_recall() {
    let samples = samples();
    assert!(samples.len() >= 25, "the corpus shrank to {} samples", samples.len());
    let mut table: BTreeMap<String, Score> = BTreeMap::new();
    let mut holdout = Score::default();
    let mut misses = Vec::new();
    for (name, path) in &samples {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let found = detect(&text);
        insta::assert_snapshot!(format!("detect__{name}"), render(&found));
        let mut own = BTreeMap::new();
        misses.extend(score(name, &found, &expectations(name), &mut own));
        for (k, v) in own {
            let row = table.entry(k).or_default();
            row.add(v);
            if name.starts_with("holdout-") {
                holdout.add(v);
            }
        }
    }
    let report = render_table(&table, samples.len(), holdout);
    println!("{report}");
    for m in &misses {
        println!("{m}");
    }
    insta::assert_snapshot!("detect__precision_recall", report);

    let mut total = Score::default();
    table.values().for_each(|s| total.add(*s));
    // Precision matters most: a false error pages an agent, a false URL gets a proxy. Recall
    // may miss the odd free-form line (a proxy library's wording) but not whole formats.
    assert!(total.precision() >= 0.95, "overall precision {:.3} < 0.95\n{report}", total.precision());
    assert!(total.recall() >= 0.90, "overall recall {:.3} < 0.90\n{report}", total.recall());
    for (k, v) in &table {
        if k.starts_with("error:") && k != "error:generic" {
            assert!(v.recall() >= 0.99 && v.precision() >= 0.99, "structured format {k} must be exact:\n{report}");
        }
    }
}

/// Every sample has a ground truth and every ground truth a sample.
#[test]
fn corpus_files_pair_up() {
    let logs: Vec<String> = samples().into_iter().map(|(n, _)| n).collect();
    let mut expects: Vec<String> = std::fs::read_dir(fixtures())
        .expect("fixtures/detect exists")
        .filter_map(|e| {
            let name = e.expect("readable dir entry").file_name().to_string_lossy().into_owned();
            name.strip_suffix(".expect.toml").map(str::to_string)
        })
        .collect();
    expects.sort();
    assert_eq!(logs, expects);
}
