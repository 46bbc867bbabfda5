//! Log-store races S-L1, S-L2, S-L3, S-L5, and S-P11 (restart and clear). Each traces the
//! store's order (`store_order`), so the ordering snapshots pin which line landed where.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use brum_core::bus::{Closed, Event, EventBus, ProcessRef, Stream};
use brum_core::logs::{AppendError, Filter, LogEntry, LogService, LogStoreConfig, ProcessFilter};
use brum_core::rt::{Runtime, spawn};

use super::{Cx, Outcome, violation};
use crate::conformance::Programs;
use crate::ensure;

fn process(id: u64) -> ProcessRef {
    ProcessRef::new(id, format!("p{id}"))
}

fn line(p: &ProcessRef, i: u64) -> Event {
    Event::log_line(p.clone(), Stream::Stdout, &format!("{} line {i}", p.name))
}

/// The line number at the end of a scenario line (`p1 line 7` is 7; 0 if none).
pub(super) fn line_no(text: &str) -> u64 {
    text.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// Runs of store order shown in full; longer orders show their head and tail and a hash.
const STORE_ORDER_RUNS_SHOWN: usize = 48;

/// The store's order, compactly: runs of consecutive lines of one producer, oldest first
/// (`p1:1-12 p2:1-3 p1:13`), so a trace pins which line of which producer landed where. A
/// long order shows its first and last runs and the FNV-1a hash of the whole.
pub(super) fn store_order(entries: &[LogEntry]) -> String {
    order_of(entries.iter().map(|e| (e.process.id.0, line_no(&e.text))))
}

/// [`store_order`] over (producer, line number) pairs, in their order.
pub(super) fn order_of(lines: impl ExactSizeIterator<Item = (u64, u64)>) -> String {
    let count = lines.len();
    let mut runs: Vec<(u64, u64, u64)> = Vec::new();
    for (p, n) in lines {
        match runs.last_mut() {
            Some((q, _, last)) if *q == p && *last + 1 == n => *last = n,
            _ => runs.push((p, n, n)),
        }
    }
    let show = |r: &[(u64, u64, u64)]| {
        r.iter()
            .map(|(p, a, b)| if a == b { format!("p{p}:{a}") } else { format!("p{p}:{a}-{b}") })
            .collect::<Vec<_>>()
            .join(" ")
    };
    if runs.len() <= STORE_ORDER_RUNS_SHOWN {
        return format!("{count} entries in {} runs: {}", runs.len(), show(&runs));
    }
    let head = STORE_ORDER_RUNS_SHOWN * 3 / 4;
    let tail = STORE_ORDER_RUNS_SHOWN - head;
    format!(
        "{count} entries in {} runs (hash {:016x}): {} .. {}",
        runs.len(),
        crate::trace::fnv1a(show(&runs).as_bytes()),
        show(&runs[..head]),
        show(&runs[runs.len() - tail..])
    )
}

/// Publishes `each` lines for each of `producers` processes concurrently, pausing at seeded
/// moments on the runtime's clock; returns the count each producer got accepted.
async fn produce<R: Runtime>(cx: &Cx<R>, bus: &EventBus<R>, producers: u64, each: u64) -> Vec<u64> {
    let tasks: Vec<_> = (1..=producers)
        .map(|k| {
            let (bus, rt) = (bus.clone(), cx.rt.clone());
            spawn(&cx.rt, "scenario.producer", async move {
                let p = process(k);
                let mut accepted = 0;
                for i in 1..=each {
                    if bus.publish(line(&p, i)).await.is_ok() {
                        accepted += 1;
                    }
                    if rt.below(4) == 0 {
                        rt.sleep(Duration::from_micros(rt.below(1500))).await;
                    }
                }
                accepted
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.join().await.unwrap_or(0));
    }
    out
}

/// Per process, the line numbers held, in store order.
fn held(service: &LogService<impl Runtime>) -> BTreeMap<u64, Vec<u64>> {
    let mut by: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for e in service.entries() {
        by.entry(e.process.id.0).or_default().push(line_no(&e.text));
    }
    by
}

fn budget_all() -> LogStoreConfig {
    LogStoreConfig { budget_bytes: 64 * 1024 * 1024, max_line_bytes: 4096 }
}

/// S-L1 and S-L2: four producers through the store's lossless subscription, whose mailbox
/// holds `mailbox` batches: every accepted line is stored exactly once, in each producer's
/// order, however often the mailbox is full and its publishers wait (where Brummer timed out
/// and appended a second time, S-L1, or appended inline ahead of the queue, S-L2).
async fn exactly_once_in_order<R: Runtime>(cx: &Cx<R>, mailbox: usize) -> Outcome {
    let bus = EventBus::new(cx.rt.clone(), cx.bus_config());
    let service = LogService::attach_with_mailbox(cx.rt.clone(), &bus, budget_all(), None, mailbox)
        .map_err(|_| violation("setup", "bus closed"))?;
    let sub = bus.stats().iter().find(|(_, s)| s.name == "logstore").map(|(id, _)| id.0).unwrap_or(0);
    let accepted = produce(cx, &bus, 4, 150).await;
    let report = bus.shutdown().await;
    cx.log("bus", "shutdown", report.to_string());
    let waits = super::bus_races::counter_sum(cx.rt.metrics(), "bus.publish_waits", &format!("logstore#{sub}"));
    cx.log("logs", "mailbox", format!("{mailbox} slots; {waits} publishes found it full and waited"));
    cx.log("logs", "order", store_order(&service.entries()));
    // The window: a producer found the store's mailbox full and waited (Brummer's timeout
    // fired there, then its fallback appended out of turn).
    let window = if waits > 0 { "hit" } else { "miss" };
    cx.log("window", window, format!("{waits} publishes waited on the store's full mailbox"));
    let by = held(&service);
    for (k, n) in (1u64..).zip(&accepted) {
        let got = by.get(&k).cloned().unwrap_or_default();
        let want: Vec<u64> = (1..=*n).collect();
        ensure!(
            got.len() as u64 == *n,
            "I20/I21 every accepted line stored exactly once",
            "p{k}: {} stored, {n} accepted",
            got.len()
        );
        ensure!(
            got == want,
            "I22 per-producer FIFO",
            "p{k} stored out of order: first difference at {:?}",
            got.iter().zip(&want).position(|(a, b)| a != b)
        );
    }
    let st = service.stats();
    cx.log("logs", "stats", format!("entries={} appended={} evicted={}", st.entries, st.appended, st.evicted_entries));
    service.close().await;
    Ok(())
}

/// The store's mailbox in S-L1: deep enough that it fills only in some bursts.
const S_L1_MAILBOX: usize = 16;

/// The store's mailbox in S-L2: two batches, full for most of the burst. (Before, S-L2 set
/// the bus's default mailbox, which the store's own subscription overrode: it ran S-L1.)
const S_L2_MAILBOX: usize = 2;

pub async fn s_l1<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    exactly_once_in_order(cx, S_L1_MAILBOX).await
}

pub async fn s_l2<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    exactly_once_in_order(cx, S_L2_MAILBOX).await
}

/// S-L3: close races producers: every line accepted before the close is stored, the closed
/// store refuses appends, and publish after the bus closed fails.
pub async fn s_l3<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    let bus = EventBus::new(cx.rt.clone(), cx.bus_config());
    let service =
        LogService::attach(cx.rt.clone(), &bus, budget_all()).map_err(|_| violation("setup", "bus closed"))?;
    let producers = {
        let (cx_rt, bus2) = (cx.rt.clone(), bus.clone());
        spawn(&cx.rt, "scenario.producers", async move {
            let p = process(1);
            let mut accepted = 0u64;
            for i in 1..=500 {
                if bus2.publish(line(&p, i)).await.is_ok() {
                    accepted += 1;
                }
                if cx_rt.below(3) == 0 {
                    cx_rt.sleep(Duration::from_micros(cx_rt.below(300))).await;
                }
            }
            accepted
        })
    };
    // A seeded moment on the runtime's clock (the producer takes about 170 ms of it).
    cx.rt.sleep(Duration::from_micros(cx.rt.below(200_000))).await;
    let before = bus.published();
    // Close: stop intake and drain the bus (so every accepted line reaches the store), then
    // close the store.
    let report = bus.shutdown().await;
    service.close().await;
    let accepted = producers.join().await.map_err(|e| violation("producers", e.to_string()))?;
    cx.log("scenario", "closed", format!("after {before} published, {accepted} accepted; {report}"));
    cx.log("logs", "order", store_order(&service.entries()));
    // The window: the close landed while the producer still had lines to publish (some were
    // accepted, the rest refused).
    let window = if accepted > 0 && accepted < 500 { "hit" } else { "miss" };
    cx.log("window", window, format!("close landed with {} of 500 lines still to publish", 500 - accepted));
    let stored = held(&service).get(&1).map_or(0, Vec::len) as u64;
    ensure!(stored == accepted, "I20 accepted then never lost on close", "{stored} stored, {accepted} accepted");
    let direct = service.append_direct(&process(1), "late", cx.rt.now());
    ensure!(matches!(direct, Err(AppendError::Closed)), "I20 append after close fails", "{direct:?}");
    let late = bus.publish(line(&process(1), 9999)).await;
    ensure!(late == Err(Closed), "I20 publish after close fails", "{late:?}");
    Ok(())
}

/// S-L5: a small budget under a flood: memory stays bounded, the oldest go first, and the
/// index agrees with the entries at the end.
pub async fn s_l5<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    let budget = 32 * 1024;
    let bus = EventBus::new(cx.rt.clone(), cx.bus_config());
    let cfg = LogStoreConfig { budget_bytes: budget, max_line_bytes: 1024 };
    let service = LogService::attach(cx.rt.clone(), &bus, cfg).map_err(|_| violation("setup", "bus closed"))?;
    let accepted = produce(cx, &bus, 3, 1000).await;
    bus.shutdown().await;
    let st = service.stats();
    let total: u64 = accepted.iter().sum();
    cx.log(
        "logs",
        "stats",
        format!(
            "entries={} held={} budget={} appended={} evicted={}",
            st.entries, st.held_bytes, budget, st.appended, st.evicted_entries
        ),
    );
    ensure!(st.held_bytes <= budget, "I23 bounded memory", "{} bytes held, budget {budget}", st.held_bytes);
    ensure!(st.appended == total, "I20 every line accepted", "{} appended of {total}", st.appended);
    ensure!(
        st.evicted_entries + st.entries == total,
        "I20 evictions counted",
        "{} evicted + {} held != {total}",
        st.evicted_entries,
        st.entries
    );
    ensure!(st.evicted_entries > 0, "scenario precondition", "the flood never filled the budget");
    let entries = service.entries();
    cx.log("logs", "order", store_order(&entries));
    // The window: eviction ran while the producers interleaved, so the chunks it dropped
    // and the ones it kept each hold lines of several producers (an index that skews on
    // eviction shows there).
    let switches = entries.windows(2).filter(|w| w[0].process.id != w[1].process.id).count();
    let window = if switches >= 3 { "hit" } else { "miss" };
    cx.log(
        "window",
        window,
        format!("{} evicted while producers interleaved ({switches} switches held)", st.evicted_entries),
    );
    // Oldest first: what remains of each process is a suffix of what it printed.
    for (p, lines) in held(&service) {
        let first = lines.first().copied().unwrap_or(1);
        let want: Vec<u64> = (first..first + lines.len() as u64).collect();
        ensure!(lines == want, "I23 eviction is oldest-first", "p{p} kept a non-contiguous set starting at {first}");
        ensure!(
            lines.last().copied() == Some(accepted[(p - 1) as usize]),
            "I23 the newest lines stay",
            "p{p} lost its newest line"
        );
    }
    // Index consistency: the per-process index equals a filter over the entries.
    for p in 1..=3u64 {
        let filter = Filter { process: Some(ProcessFilter::Id(p)), ..Filter::default() };
        let via_index: Vec<u64> = service.tail(&filter, usize::MAX).iter().map(|e| e.id.0).collect();
        let via_scan: Vec<u64> = entries.iter().filter(|e| e.process.id == p).map(|e| e.id.0).collect();
        ensure!(
            via_index == via_scan,
            "I24 index consistency",
            "p{p}: index {} entries, scan {}",
            via_index.len(),
            via_scan.len()
        );
    }
    service.close().await;
    Ok(())
}

/// S-P11: restarting a process and clearing its old generation's logs never loses the new
/// generation's lines, and late lines of the old generation do not reappear.
pub async fn s_p11<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    let bus = EventBus::new(cx.rt.clone(), cx.bus_config());
    let service =
        LogService::attach(cx.rt.clone(), &bus, budget_all()).map_err(|_| violation("setup", "bus closed"))?;
    let old = ProcessRef::new(1, Arc::from("dev"));
    let new = ProcessRef::new(2, Arc::from("dev"));
    // The old generation still has lines in flight when the new one starts and the clear
    // lands; the order of the three is up to the schedule.
    let old_tail = {
        let (bus, old, rt) = (bus.clone(), old.clone(), cx.rt.clone());
        spawn(&cx.rt, "scenario.old", async move {
            let mut refused = 0u32;
            for i in 1..=40 {
                refused += u32::from(bus.publish(line(&old, i)).await.is_err());
                // Through the runtime's clock, so the clear can land between any two lines.
                if rt.below(3) == 0 {
                    rt.sleep(Duration::from_micros(1 + rt.below(300))).await;
                }
            }
            refused
        })
    };
    let new_gen = {
        let (bus, new, rt) = (bus.clone(), new.clone(), cx.rt.clone());
        spawn(&cx.rt, "scenario.new", async move {
            let mut refused = u32::from(
                bus.publish(Event::log_line(new.clone(), Stream::Stdout, "listening on http://localhost:3000"))
                    .await
                    .is_err(),
            );
            for i in 1..=40 {
                refused += u32::from(bus.publish(line(&new, i)).await.is_err());
                if rt.below(3) == 0 {
                    rt.sleep(Duration::from_micros(1 + rt.below(300))).await;
                }
            }
            refused
        })
    };
    // A seeded moment on the runtime's clock: a `yield_now` loop this short never let the
    // spawned tasks run under turmoil, so the clear always came first (the audit's finding).
    cx.rt.sleep(Duration::from_micros(cx.rt.below(4000))).await;
    let cleared = service.clear_generations("dev", old.id.0);
    cx.log("logs", "clear", format!("cleared {cleared} lines of generation {}", old.id.0));
    let refused_old = old_tail.join().await.map_err(|e| violation("old", e.to_string()))?;
    let refused_new = new_gen.join().await.map_err(|e| violation("new", e.to_string()))?;
    ensure!(
        refused_old + refused_new == 0,
        "S-P11 the open bus takes every line",
        "{refused_old} old and {refused_new} new lines refused"
    );
    bus.shutdown().await;
    let entries = service.entries();
    let old_left = entries.iter().filter(|e| e.process.id == old.id).count();
    let new_kept = entries.iter().filter(|e| e.process.id == new.id).count();
    let late = service.dropped_after_clear();
    cx.log("logs", "after", format!("old={old_left} new={new_kept} dropped_late={late}"));
    // The race's window: the clear landed between two lines of the old generation (some were
    // stored and cleared, some arrived after and were dropped).
    let window = if cleared > 0 && late > 0 { "hit" } else { "miss" };
    cx.log("window", window, format!("{cleared} old lines cleared, {late} arrived after the clear"));
    ensure!(old_left == 0, "I25 clear removes the old generation, late lines included", "{old_left} old lines left");
    ensure!(new_kept == 41, "I25 clear never touches the new generation", "{new_kept} of 41 new lines kept");
    ensure!(
        entries.iter().any(|e| e.text.contains("listening on")),
        "S-P11 the restarted server's announcement survives",
        "the listening line is gone"
    );
    service.close().await;
    Ok(())
}
