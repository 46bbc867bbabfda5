//! A deterministic stream of realistic dev-server log lines for the log-store benchmarks:
//! request logs, Vite HMR updates (some coloured), Next.js-style compile lines, debug chatter,
//! warnings and a few errors with stack frames, from four processes. The same seed always gives
//! the same lines.

/// The processes the lines come from, by index.
pub const PROCESSES: [&str; 4] = ["api", "web", "docs", "worker"];

/// One generated line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Index into [`PROCESSES`].
    pub process: usize,
    pub stderr: bool,
    pub text: String,
}

/// An endless iterator of lines.
#[derive(Debug, Clone)]
pub struct Corpus {
    state: u64,
    n: u64,
}

impl Corpus {
    pub fn new(seed: u64) -> Corpus {
        Corpus { state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1, n: 0 }
    }

    /// xorshift64*: small, fast and portable.
    fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn clock(&self) -> String {
        // About 200 lines a second of virtual time.
        let ms = self.n * 5;
        format!("{:02}:{:02}:{:02}.{:03}", 8 + ms / 3_600_000 % 24, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
    }
}

const RESOURCES: &[&str] = &["users", "orders", "products", "sessions", "search", "carts", "invoices"];
const COMPONENTS: &[&str] =
    &["Button", "Header", "UserProfile", "OrderTable", "CheckoutForm", "Sidebar", "SearchBox", "Modal"];
const PAGES: &[&str] = &["index", "about", "blog/[slug]", "docs/getting-started", "api/hello", "pricing"];
const PROPS: &[&str] = &["map", "length", "id", "user", "data", "items"];
const TABLES: &[&str] = &["users", "orders", "line_items", "sessions"];

impl Iterator for Corpus {
    type Item = Line;

    fn next(&mut self) -> Option<Line> {
        self.n += 1;
        let clock = self.clock();
        let roll = self.below(1000);
        let line = if roll < 560 {
            let method = match self.below(10) {
                0..=6 => "GET",
                7 => "POST",
                8 => "PUT",
                _ => "DELETE",
            };
            let status = match self.below(1000) {
                0..=849 => 200,
                850..=909 => 201,
                910..=959 => 304,
                960..=989 => 404,
                990..=994 => 422,
                _ => 500,
            };
            let resource = self.pick(RESOURCES);
            let (id, ms, tenth, bytes, req) =
                (self.below(100_000), self.below(250), self.below(10), self.below(20_000), self.next_u64() as u32);
            Line {
                process: 0,
                stderr: false,
                text: format!(
                    "{clock} INFO  http {method} /api/{resource}/{id} -> {status} in {ms}.{tenth}ms bytes={bytes} req={req:08x}"
                ),
            }
        } else if roll < 760 {
            let component = self.pick(COMPONENTS);
            let text = match self.below(10) {
                0..=2 => format!(
                    "\u{1b}[2m{clock}\u{1b}[22m \u{1b}[36m\u{1b}[1m[vite]\u{1b}[22m\u{1b}[39m \u{1b}[32mhmr update \u{1b}[39m\u{1b}[2m/src/components/{component}.tsx\u{1b}[22m"
                ),
                3..=8 => format!(
                    "{clock} [vite] hmr update /src/components/{component}.tsx, /src/styles/{component}.module.css"
                ),
                _ => format!("{clock} [vite] page reload src/pages/{}.tsx", self.pick(PAGES)),
            };
            Line { process: 1, stderr: false, text }
        } else if roll < 840 {
            let page = self.pick(PAGES);
            let text = if self.below(2) == 0 {
                format!("wait  - compiling /{page} (client and server)...")
            } else {
                format!(
                    "event - compiled client and server successfully in {} ms ({} modules)",
                    self.below(3000),
                    200 + self.below(2000)
                )
            };
            Line { process: 2, stderr: false, text }
        } else if roll < 900 {
            let (job, queue, hit) = (self.below(1_000_000), self.below(50), self.below(100_000));
            Line {
                process: 3,
                stderr: false,
                text: format!("{clock} DEBUG worker: job {job} dequeued queue_depth={queue} cache hit key=user:{hit}"),
            }
        } else if roll < 930 {
            let (batch, ms, jobs) = (self.below(100_000), self.below(900), self.below(64));
            Line {
                process: 3,
                stderr: false,
                text: format!("{clock} INFO  worker: processed batch {batch} in {ms}ms ({jobs} jobs)"),
            }
        } else if roll < 990 {
            let text = match self.below(3) {
                0 => format!(
                    "{clock} WARN  db: slow query took {}ms: SELECT * FROM {} WHERE id = $1",
                    500 + self.below(3000),
                    self.pick(TABLES)
                ),
                1 => format!(
                    "(node:{}) [DEP0040] DeprecationWarning: The `punycode` module is deprecated. Please use a userland alternative instead.",
                    1000 + self.below(60_000)
                ),
                _ => format!(
                    "warning: React Hook useEffect has a missing dependency: '{}'. Either include it or remove the dependency array.",
                    self.pick(PROPS)
                ),
            };
            Line { process: if self.below(2) == 0 { 0 } else { 1 }, stderr: true, text }
        } else {
            let component = self.pick(COMPONENTS);
            let text = match self.below(3) {
                0 => format!(
                    "{clock} ERROR db: query failed: connection reset by peer (pool=main, attempt={})",
                    1 + self.below(5)
                ),
                1 => format!("TypeError: Cannot read properties of undefined (reading '{}')", self.pick(PROPS)),
                _ => format!(
                    "    at {component} (/src/components/{component}.tsx:{}:{})",
                    1 + self.below(300),
                    1 + self.below(80)
                ),
            };
            Line { process: if self.below(2) == 0 { 0 } else { 1 }, stderr: true, text }
        };
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_typical_lengths() {
        let a: Vec<Line> = Corpus::new(1).take(10_000).collect();
        let b: Vec<Line> = Corpus::new(1).take(10_000).collect();
        assert_eq!(a, b);
        let mean = a.iter().map(|l| l.text.len()).sum::<usize>() / a.len();
        assert!((60..=120).contains(&mean), "mean line length {mean}");
    }
}
